"""The exceptions techcal's library raises.

Every error a user can cause (a bad URL, a foreign database file, a source
that does not exist) is a :class:`TechcalError`; the command line turns it
into a one-line message in exactly one place (``techcal.cli``). Anything else
escaping the library is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class TechcalError(Exception):
    """Base class: a problem the user can understand and fix."""

    #: process exit status the CLI uses for this error
    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        # errors raised in reader worker processes travel back pickled; keep
        # the one-line message rather than re-running a subclass __init__
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[TechcalError], message: str, state: dict[str, object]) -> TechcalError:
    error = TechcalError.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class NotATechcalDatabase(TechcalError):
    """The database path points at something techcal must not touch."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"refusing to use {self.path}: {reason}")


class SourceError(TechcalError):
    """A source definition is invalid (bad URL, kind, type, name...)."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"source {source}: {problem}")


class SourceExists(SourceError):
    """A source with the same URL or name is already registered."""


class UnknownSource(SourceError):
    """No source has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "no such source (see `techcal sources list`)")


class SourceFileError(TechcalError):
    """A sources file (TOML or OPML) cannot be read."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class InvalidEvent(TechcalError):
    """An Event record breaks the record's rules (naive time, unknown status...)."""

    def __init__(self, source: str, source_uid: str, problem: str) -> None:
        self.source = source
        self.source_uid = source_uid
        self.problem = problem
        super().__init__(f"event {source_uid!r} from {source}: {problem}")


class NoDatabaseYet(TechcalError):
    """Reading a database that has not been created."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no techcal database at {path} yet: add sources (`techcal sources add`) "
            "and crawl them (`techcal crawl`), or give --db"
        )


class QueryError(TechcalError):
    """A search filter that cannot be understood."""

    exit_code = 2

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{option}: {problem}")


class UnknownPlace(TechcalError):
    """A place name the gazetteer does not know."""

    exit_code = 2

    def __init__(self, text: str, suggestions: list[str]) -> None:
        self.text = text
        self.suggestions = suggestions
        hint = f"; did you mean: {'; '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown place {text!r}{hint} (give a city, 'City, Region', or LAT,LON)")


class TaxonomyError(TechcalError):
    """The topics file cannot be used."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


class UnknownTopic(TechcalError):
    """A topic asked for that the taxonomy does not have."""

    exit_code = 2

    def __init__(self, topic: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown topic {topic!r}{hint} (see `techcal topics`)")


class MergeError(TechcalError):
    """A split or merge that cannot be done."""


class SubscriptionError(TechcalError):
    """A subscription that cannot be added, found or used."""

    exit_code = 2


class UnknownSubscription(SubscriptionError):
    """No subscription has that name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        hint = f" (known: {', '.join(known)})" if known else " (there are none yet)"
        super().__init__(f"no subscription named {name!r}{hint}")


class DemoError(TechcalError):
    """A step of the demo failed."""


class WireError(TechcalError, ValueError):
    """A job or result in the Redis frontier that is not what techcal sends."""
