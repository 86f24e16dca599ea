"""Apprise targets: checking them, reading Apprise's configuration, hiding their secrets.

Targets are Apprise URLs, checked by Apprise when added, or ``tag:NAME``
for the targets tagged NAME in an Apprise configuration file. Secrets in
URLs are never printed: :func:`mask` shows them as Apprise's privacy mode
does. Apprise is imported only when a target is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from techcal.errors import SubscriptionError


def default_config_paths() -> list[Path]:
    """Return the Apprise configuration files that exist where Apprise looks by default."""
    try:
        from apprise.cli import DEFAULT_CONFIG_PATHS

        candidates = [Path(p).expanduser() for p in DEFAULT_CONFIG_PATHS]
    except ImportError:  # pragma: no cover - older Apprise
        candidates = [Path("~/.apprise").expanduser(), Path("~/.apprise.yml").expanduser()]
    return [p for p in candidates if p.is_file()]


def _config_paths(config: str | None) -> list[Path]:
    return [Path(config).expanduser()] if config else default_config_paths()


def load_config(config: str | None) -> Any:
    """Return an AppriseConfig of ``config`` (or the default files)."""
    import apprise

    paths = _config_paths(config)
    bundle = apprise.AppriseConfig()
    for path in paths:
        bundle.add(str(path))
    return bundle


def check_target(target: str, config: str | None) -> None:
    """Raise SubscriptionError unless Apprise can use ``target``."""
    import apprise

    if target.startswith("tag:"):
        tag = target[4:].strip()
        if not tag:
            raise SubscriptionError("--notify: tag: needs a tag name, e.g. tag:family")
        paths = _config_paths(config)
        if not paths:
            raise SubscriptionError(
                f"--notify {target}: no Apprise configuration file found"
                " (give one with --apprise-config, or create ~/.config/apprise/apprise.yml)"
            )
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SubscriptionError(f"--apprise-config: {missing[0]} does not exist")
        notifier = apprise.Apprise()
        notifier.add(load_config(config))
        if not list(notifier.find(tag=tag)):
            where = ", ".join(str(p) for p in paths)
            raise SubscriptionError(f"--notify {target}: no target is tagged {tag!r} in {where}")
        return
    plugin = apprise.Apprise.instantiate(target)
    if plugin is None:
        raise SubscriptionError(
            f"--notify: Apprise cannot use {mask(target)!r}: not a URL of a service it knows"
            " (see https://github.com/caronc/apprise/wiki for the URL of each service)"
        )


def mask(target: str) -> str:
    """Return ``target`` with its secrets hidden (Apprise's privacy mode)."""
    if target.startswith("tag:"):
        return target
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(target)
    except Exception:  # noqa: BLE001 - a target we cannot parse is shown as its scheme only
        plugin = None
    if plugin is None:
        scheme = target.split("://", 1)[0] if "://" in target else "?"
        return f"{scheme}://****"
    text: str = plugin.url(privacy=True)
    # the defaults Apprise adds to every URL are noise in a listing
    base, _, query = text.partition("?")
    kept = [
        p
        for p in query.split("&")
        if p and p.split("=", 1)[0] not in {"retry", "wait", "optional", "overflow", "format"}
    ]
    return base + ("?" + "&".join(kept) if kept else "")
