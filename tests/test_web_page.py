"""The page `techcal serve` shows at /, in a real headless Chromium (Playwright).

A real store is written to a temporary folder, `techcal serve --port 0` runs
as a subprocess on it, and the system's Chromium opens the page: the events
listed, the filter form, the subscribe links for the current filter (and the
feed they point at), untrusted titles shown as text, a bad parameter as a
400 with a one-line message, and a screenshot for people to look at.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from techcal.event import Event
from techcal.store import Source, add_source, open_store, upsert_events

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: seconds to wait for `techcal serve` to say where it listens
STARTUP_TIMEOUT = 20

PORTLAND = dict(
    city="Portland",
    region="OR",
    country="US",
    lat=45.5152,
    lon=-122.6784,
    timezone="America/Los_Angeles",
)
BERLIN = dict(
    city="Berlin", region=None, country="DE", lat=52.52, lon=13.405, timezone="Europe/Berlin"
)

LINUX_TITLE = "PLUG monthly meeting: eBPF deep dive"
PYTHON_PDX_TITLE = "PDX Python: async web apps"
BERLIN_TITLE = "Berlin Python Pizza"
CANCELLED_TITLE = "PLUG install fest"
PAST_TITLE = "PLUG meeting last month"
XSS_TITLE = "<script>window.__xss=1</script> & <b>Bold</b> LUG night"
#: what the page lists at /, in start order (the past event is not upcoming)
UPCOMING = [LINUX_TITLE, BERLIN_TITLE, PYTHON_PDX_TITLE, CANCELLED_TITLE, XSS_TITLE]


def _event(source: str, uid: str, title: str, days: int, place: dict, **changes) -> Event:
    # the server reads the real clock: times are relative to now
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    values = dict(
        source=source,
        source_uid=f"{uid}@{source}.example",
        title=title,
        description="",
        url=f"https://{source}.example/{uid}",
        start=start,
        end=start + timedelta(hours=2),
        venue=f"Hall {uid}",
        **place,
    )
    values.update(changes)
    return Event(**values)


def _build_store(db_path: Path) -> None:
    db = open_store(db_path)
    try:
        for name, kind, city in (
            ("plug", "lug", "Portland, OR"),
            ("pdxpy", "user-group", "Portland, OR"),
            ("berlinpy", "user-group", "Berlin"),
        ):
            url = f"https://{name}.example/events.ics"
            add_source(db, Source(name=name, url=url, kind=kind, city=city))
        now = datetime.now(UTC)
        linux = dict(kind="lug", topics=("linux",))
        python = dict(kind="user-group", topics=("python",))
        upsert_events(
            db,
            "plug",
            [
                _event("plug", "p0", PAST_TITLE, -20, PORTLAND, **linux),
                _event("plug", "p1", LINUX_TITLE, 2, PORTLAND, **linux),
                _event("plug", "p2", CANCELLED_TITLE, 6, PORTLAND, status="cancelled", **linux),
                _event("plug", "p3", XSS_TITLE, 8, PORTLAND, **linux),
            ],
            now=now,
        )
        upsert_events(
            db, "pdxpy", [_event("pdxpy", "d1", PYTHON_PDX_TITLE, 5, PORTLAND, **python)], now=now
        )
        upsert_events(
            db, "berlinpy", [_event("berlinpy", "b1", BERLIN_TITLE, 4, BERLIN, **python)], now=now
        )
    finally:
        db.conn.close()


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found is None:
        pytest.fail(
            "no Chromium found (neither `chromium` on PATH nor /usr/bin/chromium): "
            "install it (apt-get install chromium) to run the web page tests"
        )
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Yield the base URL of `techcal serve --port 0` running on a fresh store."""
    folder = tmp_path_factory.mktemp("web-page")
    db_path = folder / "techcal.db"
    _build_store(db_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "techcal.cli", "--db", str(db_path), "serve", "--port", "0"],
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def drain() -> None:
        # read stderr to the end so the server never blocks on a full pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while url is None:
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                pytest.fail(
                    f"techcal serve did not say where it serves in {STARTUP_TIMEOUT}s: "
                    f"{''.join(seen)!r}"
                )
            if line is None:
                pytest.fail(
                    f"techcal serve exited with {process.wait()} before serving: {''.join(seen)!r}"
                )
            seen.append(line)
            found = re.match(r"serving .* at (http://127\.0\.0\.1:\d+/)\s*$", line)
            if found:
                url = found.group(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Yield one headless Chromium (a fresh profile) for the whole module."""
    executable = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext):
    """Yield a new tab of the module's browser."""
    tab = browser.new_page()
    yield tab
    tab.close()


@pytest.fixture
def seen(page: Page) -> dict[str, list[str]]:
    """Record every dialog and console message the tab produces from now on."""
    record: dict[str, list[str]] = {"dialogs": [], "console": []}

    def on_dialog(dialog) -> None:
        record["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: record["console"].append(message.text))
    return record


def _titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#events tr.event .title").all_inner_texts()]


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def test_page_lists_upcoming_events_and_has_the_filter_form(server: str, page: Page) -> None:
    response = page.goto(server)
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert page.title() == "techcal: all events"
    assert page.locator("h1").inner_text() == "techcal: all events"
    # every upcoming event, soonest first; the past one is gone
    assert _titles(page) == UPCOMING
    assert PAST_TITLE not in page.locator("body").inner_text()
    assert page.locator("#no-events").count() == 0
    assert page.locator("#error").count() == 0

    form = page.locator("form#filters")
    assert form.count() == 1
    for name, tag, kind in (
        ("q", "input", "search"),
        ("near", "input", "text"),
        ("within", "input", "text"),
        ("from", "input", "date"),
        ("to", "input", "date"),
    ):
        field = form.locator(f"{tag}[name={name}]")
        assert field.count() == 1, name
        assert field.get_attribute("type") == kind, name
        assert field.input_value() == "", name
    topics = form.locator("select[name=topic] option")
    assert topics.evaluate_all("options => options.map(o => o.value)") == ["", "linux", "python"]
    # a topic is shown with its number of upcoming events (Berlin's and Portland's)
    python_label = form.locator("select[name=topic] option[value=python]").inner_text()
    assert re.fullmatch(r"Python \(2\)", python_label), python_label
    kinds = form.locator("select[name=kind] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert kinds[0] == "" and {"lug", "user-group"} <= set(kinds)
    assert form.locator("button[type=submit]").count() == 1

    # unfiltered: the subscribe links are for every event
    port = _port(server)
    assert page.locator("#webcal").get_attribute("href") == (
        f"webcal://127.0.0.1:{port}/calendar.ics"
    )
    assert page.locator("#ics").get_attribute("href") == f"http://127.0.0.1:{port}/calendar.ics"


def test_cancelled_event_is_marked(server: str, page: Page) -> None:
    page.goto(server)
    cancelled = page.locator("#events tr.event.cancelled")
    assert cancelled.count() == 1
    assert cancelled.locator(".title").inner_text().strip() == CANCELLED_TITLE
    assert cancelled.locator("strong").inner_text().strip() == "Cancelled:"
    assert "Cancelled: " + CANCELLED_TITLE in cancelled.inner_text()
    # the others carry no marker
    others = page.locator("#events tr.event:not(.cancelled)")
    assert others.count() == len(UPCOMING) - 1
    assert "Cancelled:" not in " ".join(others.all_inner_texts())


def test_filter_form_narrows_the_list_and_the_subscribe_links(server: str, page: Page) -> None:
    page.goto(server)
    form = page.locator("form#filters")
    form.locator("input[name=near]").fill("Portland, OR")
    form.locator("input[name=within]").fill("30km")
    assert form.locator("select[name=topic] option[value=python]").count() == 1
    form.locator("select[name=topic]").select_option("python")
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert navigation.value is not None and navigation.value.status == 200

    params = parse_qs(urlsplit(page.url).query)
    assert params["near"] == ["Portland, OR"]
    assert params["within"] == ["30km"]
    assert params["topic"] == ["python"]
    assert _titles(page) == [PYTHON_PDX_TITLE]
    assert "Portland" in page.title() and "python" in page.title()
    # the form shows the filter it answered
    assert form.locator("input[name=near]").input_value() == "Portland, OR"
    assert form.locator("input[name=within]").input_value() == "30km"
    assert form.locator("select[name=topic]").input_value() == "python"
    # the distance from the place asked for is shown
    assert re.search(r"\(\d+ km\)", page.locator("#events tr.event").inner_text())

    port = _port(server)
    webcal = page.locator("#webcal").get_attribute("href") or ""
    ics = page.locator("#ics").get_attribute("href") or ""
    google = page.locator("#google").get_attribute("href") or ""
    assert webcal.startswith(f"webcal://127.0.0.1:{port}/calendar.ics?"), webcal
    assert "topic=python" in webcal and "near=Portland%2C+OR" in webcal, webcal
    assert "within=30km" in webcal, webcal
    # empty fields the browser sent do not end up in the feed's URL
    assert "q=" not in webcal and "kind=" not in webcal, webcal
    assert ics == "http" + webcal.removeprefix("webcal"), ics
    assert google.startswith("https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2F"), google
    assert parse_qs(urlsplit(google).query)["cid"] == [webcal]

    # the feed behind the link has that filter's events
    with urllib.request.urlopen(ics, timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/calendar")
        body = answer.read().decode("utf-8")
    unfolded = re.sub(r"\r?\n[ \t]", "", body)
    assert unfolded.startswith("BEGIN:VCALENDAR")
    assert unfolded.count("BEGIN:VEVENT") == 1
    assert PYTHON_PDX_TITLE in unfolded
    assert BERLIN_TITLE not in unfolded
    assert "eBPF" not in unfolded


def test_text_search_lists_only_the_matching_event(server: str, page: Page) -> None:
    page.goto(server)
    page.locator("form#filters input[name=q]").fill("eBPF")
    with page.expect_navigation():
        page.locator("form#filters input[name=q]").press("Enter")
    assert parse_qs(urlsplit(page.url).query)["q"] == ["eBPF"]
    assert _titles(page) == [LINUX_TITLE]
    assert page.locator("form#filters input[name=q]").input_value() == "eBPF"

    # a word no event has: the page says so instead of an empty table
    response = page.goto(server + "?q=kubernetes")
    assert response is not None and response.status == 200
    assert page.locator("#events").count() == 0
    assert page.locator("#no-events").inner_text() == "No upcoming events match."


def test_untrusted_title_is_shown_as_text(
    server: str, page: Page, seen: dict[str, list[str]]
) -> None:
    page.goto(server)
    row = page.locator("#events tr.event", has_text="LUG night")
    assert row.count() == 1
    assert row.locator(".title").inner_text().strip() == XSS_TITLE
    assert "<script>window.__xss=1</script>" in row.inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("#events b").count() == 0
    assert page.locator("#events script").count() == 0
    assert page.locator("script").count() == 0
    assert seen["dialogs"] == []
    # had a script element been injected, the page's CSP would have refused it loudly
    assert not [m for m in seen["console"] if "Content Security Policy" in m]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("within=5km", "within: needs near"),
        ("kind=nonsense", "nonsense"),
        ("from=garbage", "garbage"),
        ("near=Nowhereville+XYZ", "Nowhereville XYZ"),
    ],
)
def test_bad_parameter_is_a_400_with_a_one_line_message(
    server: str, page: Page, query: str, words: str
) -> None:
    response = page.goto(f"{server}?{query}")
    assert response is not None
    assert response.status == 400
    message = page.locator("p#error").inner_text()
    assert words in message, message
    assert "\n" not in message.strip() and message.strip(), message
    assert "Traceback" not in page.content()
    assert page.locator("#events tr.event").count() == 0
    # the form is still there to correct the filter, and no link offers the bad one
    assert page.locator("form#filters").count() == 1
    assert page.locator("#subscribe").count() == 0
    assert "--" not in message


def test_screenshot(server: str, page: Page) -> None:
    page.goto(server)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "web-page.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 1000
