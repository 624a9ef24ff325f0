"""The feed and statuspage checks against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route, refused_port

from uplight import CheckContext, CheckResult, CheckStatus
from uplight_plugins.checks import feed, statuspage
from uplight_plugins.checks.feed import FeedCheck, FeedOptions
from uplight_plugins.checks.statuspage import StatuspageCheck, StatuspageOptions, status_url

Serve = Callable[..., HttpServer]

pytestmark = pytest.mark.timeout(10)

NOW = dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC)
ATOM = "application/atom+xml"


def _iso(ago: dt.timedelta) -> str:
    return (NOW - ago).isoformat().replace("+00:00", "Z")


def atom(*entries: tuple[str, str, dt.timedelta]) -> str:
    """A Statuspage-style history.atom: (title, newest update first as HTML, age)."""
    items = "".join(
        f"<entry><id>tag:status,{i}</id><title>{title}</title>"
        f"<updated>{_iso(age)}</updated><published>{_iso(age)}</published>"
        f'<link rel="alternate" type="text/html" href="https://status.example/incidents/{i}"/>'
        f'<content type="html">{body}</content></entry>'
        for i, (title, body, age) in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>tag:status</id>'
        f"<title>Example Status</title><updated>{_iso(dt.timedelta())}</updated>{items}</feed>"
    )


def rss(*entries: tuple[str, str, dt.timedelta]) -> str:
    items = "".join(
        f"<item><title>{title}</title><description>{body}</description>"
        f"<pubDate>{format_datetime(NOW - age)}</pubDate>"
        f"<link>https://status.example/{i}</link><guid>{i}</guid></item>"
        for i, (title, body, age) in enumerate(entries)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Example</title>'
        f"<link>https://status.example/</link><description>x</description>{items}</channel></rss>"
    )


def update(word: str, text: str) -> str:
    # Statuspage's markup for one update, escaped as it is inside <content type="html">.
    return f"&lt;p&gt;&lt;small&gt;Dec 4, 17:00 UTC&lt;/small&gt;&lt;br&gt;&lt;strong&gt;{word}&lt;/strong&gt; - {text}&lt;/p&gt;"


HOUR = dt.timedelta(hours=1)
INVESTIGATING = update("Investigating", "We are investigating delayed Actions runs.")
RESOLVED = update("Resolved", "This incident has been resolved.") + INVESTIGATING


async def run(
    check: FeedCheck | None = None, monitor: str = "m", now: dt.datetime = NOW, **options: Any
) -> CheckResult:
    validated = FeedOptions.model_validate(options)
    context = CheckContext(monitor_id=monitor, timeout=2.0, now=now)
    return await (check or FeedCheck()).check(validated, context)


def test_registers_both_check_types() -> None:
    registered: list[type] = []
    feed.uplight_check_types(registered.append)
    statuspage.uplight_check_types(registered.append)
    assert registered == [FeedCheck, StatuspageCheck]
    assert (FeedCheck.name, StatuspageCheck.name) == ("feed", "statuspage")


async def test_an_open_incident_degrades_then_its_resolution_clears_it(serve: Serve) -> None:
    server = serve(
        {"/history.atom": Route(200, atom(("Delayed Actions runs", INVESTIGATING, HOUR)))}
    )
    check = FeedCheck()
    result = await run(check, url=server.url("/history.atom"))
    assert result.status is CheckStatus.DEGRADED
    assert result.message == "Delayed Actions runs"
    assert result.details["unresolved_entries"] == 1
    assert result.details["link"] == "https://status.example/incidents/0"
    assert result.latency is not None

    server.routes["/history.atom"] = Route(200, atom(("Delayed Actions runs", RESOLVED, HOUR)))
    result = await run(check, url=server.url("/history.atom"))
    assert result.status is CheckStatus.UP
    assert result.message == "no unresolved incident in the last 3d"
    assert result.details == {"entries": 1, "unresolved_entries": 0, "not_modified": False}


async def test_rss_feed_changes_between_polls(serve: Serve) -> None:
    server = serve(
        {"/feed.rss": Route(200, rss(("Login errors", "Investigating - we look", HOUR)))}
    )
    check = FeedCheck()
    assert (await run(check, url=server.url("/feed.rss"))).status is CheckStatus.DEGRADED
    server.routes["/feed.rss"] = Route(
        200, rss(("[RESOLVED] Login errors", "we fixed it", HOUR), ("Old", "open", 10 * HOUR))
    )
    result = await run(check, url=server.url("/feed.rss"))
    assert result.status is CheckStatus.DEGRADED  # the older entry is still open
    assert result.message == "Old"
    result = await run(check, url=server.url("/feed.rss"), max_age="5h")
    assert result.status is CheckStatus.UP
    assert result.details["entries"] == 1


async def test_resolved_words_are_read_in_the_newest_update_only(serve: Serve) -> None:
    body = update("Update", "We are on it. " + "x" * 200 + " Resolved soon, we hope.")
    server = serve({"/a": Route(200, atom(("Outage", body, HOUR)))})
    assert (await run(url=server.url("/a"))).status is CheckStatus.DEGRADED


async def test_resolved_when_is_configurable(serve: Serve) -> None:
    server = serve({"/a": Route(200, atom(("Maintenance", update("Scheduled", "soon"), HOUR)))})
    assert (await run(url=server.url("/a"))).status is CheckStatus.DEGRADED
    result = await run(url=server.url("/a"), resolved_when=["Resolved", "Scheduled"])
    assert result.status is CheckStatus.UP


async def test_down_when_words_make_it_down_and_lead_the_message(serve: Serve) -> None:
    server = serve(
        {
            "/a": Route(
                200,
                atom(
                    ("Slow pages", INVESTIGATING, HOUR),
                    ("Git operations failing", update("Identified", "A major outage."), 2 * HOUR),
                ),
            )
        }
    )
    result = await run(url=server.url("/a"), down_when=["major outage", "unavailable"])
    assert result.status is CheckStatus.DOWN
    assert result.message == "Git operations failing (+1 more)"
    result = await run(url=server.url("/a"), down_when="majority")  # whole words only
    assert result.status is CheckStatus.DEGRADED
    assert result.message == "Slow pages (+1 more)"


async def test_old_entries_are_ignored(serve: Serve) -> None:
    server = serve({"/a": Route(200, atom(("Ancient", INVESTIGATING, dt.timedelta(days=4))))})
    result = await run(url=server.url("/a"))
    assert result.status is CheckStatus.UP
    assert result.details["entries"] == 0


async def test_etag_and_last_modified_are_sent_back_and_304_keeps_the_verdict(
    serve: Serve,
) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Fri, 04 Dec 2026 17:00:00 GMT"}
    body = atom(("Delayed Actions runs", INVESTIGATING, HOUR))
    server = serve({"/a": Route(200, body, headers={**validators, "Content-Type": ATOM})})
    check = FeedCheck()
    first = await run(check, url=server.url("/a"))
    assert "if-none-match" not in server.requests[0].headers

    server.routes["/a"] = Route(304, headers=validators)
    second = await run(check, url=server.url("/a"))
    sent = server.requests[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == validators["Last-Modified"]
    assert (second.status, second.message) == (first.status, first.message)
    assert second.details["not_modified"] is True
    # Remembered entries are judged again: the incident ages out without a download.
    later = await run(check, url=server.url("/a"), now=NOW + dt.timedelta(days=3))
    assert later.status is CheckStatus.UP

    # Validators are per monitor: another monitor downloads in full.
    await run(check, monitor="other", url=server.url("/a"))
    assert "if-none-match" not in server.requests[3].headers


async def test_a_304_without_a_remembered_answer_is_a_failure(serve: Serve) -> None:
    server = serve({"/a": Route(304)})
    result = await run(url=server.url("/a"))
    assert result.status is CheckStatus.DOWN
    assert result.message.endswith("answered 304 Not Modified")


async def test_http_error(serve: Serve) -> None:
    server = serve({})
    result = await run(url=server.url("/history.atom?token=s3cret"))
    assert result.status is CheckStatus.DOWN
    # No query string in the message: a private feed's token hides there.
    assert result.message == f"{server.url('/history.atom')} answered 404 Not Found"


async def test_garbage_body_is_not_a_feed(serve: Serve) -> None:
    server = serve(
        {"/a": Route(200, "<html><body>We moved!</body>", {"Content-Type": "text/html"})}
    )
    result = await run(url=server.url("/a"))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("not an RSS or Atom feed (")


async def test_empty_feed_is_up(serve: Serve) -> None:
    server = serve({"/a": Route(200, atom())})
    result = await run(url=server.url("/a"))
    assert result.status is CheckStatus.UP
    assert result.details["entries"] == 0


async def test_too_large_body(serve: Serve) -> None:
    server = serve({"/a": Route(200, b"x" * 5000)})
    result = await run(url=server.url("/a"), max_body_bytes=4096)
    assert result.status is CheckStatus.DOWN
    assert result.message == f"http://127.0.0.1:{server.port} sent more than 4 KiB (max_body_bytes)"


async def test_refused() -> None:
    port = refused_port()
    result = await run(url=f"http://127.0.0.1:{port}/a")
    assert result.status is CheckStatus.DOWN
    assert result.message == f"connection refused by http://127.0.0.1:{port}"


async def test_timeout(serve: Serve) -> None:
    server = serve({"/a": Route(200, atom(), delay=5)})
    validated = FeedOptions.model_validate({"url": server.url("/a")})
    result = await FeedCheck().check(validated, CheckContext(monitor_id="m", timeout=0.3))
    assert result.status is CheckStatus.DOWN
    assert result.message == f"timed out after 0.3s fetching http://127.0.0.1:{server.port}"


async def test_https_with_ca_file(https: Callable[..., HttpServer], ca_file: Any) -> None:
    server = https({"/a": Route(200, atom())}, "127.0.0.1")
    url = server.url("/a").replace("http://", "https://")
    assert (await run(url=url)).message.startswith("TLS error from https://127.0.0.1")
    assert (await run(url=url, ca_file=ca_file)).status is CheckStatus.UP
    assert (await run(url=url, verify_tls=False)).status is CheckStatus.UP


@pytest.mark.parametrize(
    "options",
    [
        {"url": "ftp://example.com/feed"},
        {"url": "https://example.com/a", "resolved_when": []},
        {"url": "https://example.com/a", "max_age": 3},
        {"url": "https://example.com/a", "verify_tls": False, "ca_file": "/etc/hosts"},
    ],
)
def test_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        FeedOptions.model_validate(options)


# -- statuspage -----------------------------------------------------------------------


async def run_statuspage(
    url: str, check: StatuspageCheck | None = None, **options: Any
) -> CheckResult:
    validated = StatuspageOptions.model_validate({"url": url, **options})
    return await (check or StatuspageCheck()).check(
        validated, CheckContext(monitor_id="m", timeout=2.0)
    )


def _status(indicator: str, description: str) -> str:
    return json.dumps(
        {"page": {"id": "x"}, "status": {"indicator": indicator, "description": description}}
    )


def test_status_url() -> None:
    assert status_url("https://www.githubstatus.com") == (
        "https://www.githubstatus.com/api/v2/status.json"
    )
    assert status_url("https://x.example/status/") == "https://x.example/status/api/v2/status.json"
    assert status_url("https://x.example/api/v2/status.json") == (
        "https://x.example/api/v2/status.json"
    )


@pytest.mark.parametrize(
    ("indicator", "status"),
    [
        ("none", CheckStatus.UP),
        ("minor", CheckStatus.DEGRADED),
        ("maintenance", CheckStatus.DEGRADED),
        ("major", CheckStatus.DOWN),
        ("critical", CheckStatus.DOWN),
    ],
)
async def test_statuspage_indicators(serve: Serve, indicator: str, status: CheckStatus) -> None:
    server = serve({"/api/v2/status.json": Route(200, _status(indicator, "Some words"))})
    result = await run_statuspage(server.url("/"))
    assert result.status is status
    assert result.message == "Some words"
    assert result.details == {"indicator": indicator, "not_modified": False}


async def test_statuspage_unknown_indicator_is_degraded(serve: Serve) -> None:
    server = serve({"/api/v2/status.json": Route(200, _status("purple", "Odd"))})
    result = await run_statuspage(server.url("/"))
    assert result.status is CheckStatus.DEGRADED
    assert result.message == "unknown indicator 'purple': Odd"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>nope</html>", "not a Statuspage status.json: invalid JSON ("),
        ('{"status": {"description": "x"}}', "not a Statuspage status.json: no status.indicator"),
        ("[1, 2]", "not a Statuspage status.json: no status.indicator"),
    ],
)
async def test_statuspage_garbage(serve: Serve, body: str, message: str) -> None:
    server = serve({"/api/v2/status.json": Route(200, body)})
    result = await run_statuspage(server.url("/"))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(message)


async def test_statuspage_conditional(serve: Serve) -> None:
    server = serve(
        {"/api/v2/status.json": Route(200, _status("major", "Major Outage"), {"ETag": 'W/"7"'})}
    )
    check = StatuspageCheck()
    assert (await run_statuspage(server.url("/"), check)).status is CheckStatus.DOWN
    server.routes["/api/v2/status.json"] = Route(304, headers={"ETag": 'W/"7"'})
    result = await run_statuspage(server.url("/"), check)
    assert server.requests[1].headers["if-none-match"] == 'W/"7"'
    assert (result.status, result.message) == (CheckStatus.DOWN, "Major Outage")
    assert result.details["not_modified"] is True
    server.routes["/api/v2/status.json"] = Route(200, _status("none", "All Systems Operational"))
    result = await run_statuspage(server.url("/"), check)
    assert (result.status, result.message) == (CheckStatus.UP, "All Systems Operational")
