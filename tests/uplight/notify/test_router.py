"""Routing: which channels get which events, queued with the event that caused them."""

from __future__ import annotations

from collections import Counter

from uplight.models import CheckResult, ResultRecord

TWO_CHANNELS = """
[defaults]
notify = ["phone", "mail"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
[[notifiers]]
id = "mail"
type = "fake"
label = "mail"
"""


async def test_an_incident_opens_and_ends_once_per_channel(make_env) -> None:
    async with make_env(TWO_CHANNELS) as env:
        await env.feed("web", "down", "down", "up", "up")
        rows = await env.rows()
        assert Counter((r.channel, r.event) for r in rows) == {
            ("phone", "incident_opened"): 1,
            ("phone", "incident_ended"): 1,
            ("mail", "incident_opened"): 1,
            ("mail", "incident_ended"): 1,
        }
        # Each row its own key: a receiver behind both channels must not drop one.
        assert len({r.idempotency_key for r in rows}) == 4
        await env.deliver()
        assert env.inbox.events("phone") == ["incident_opened", "incident_ended"]
        opened, ended = (m for label, m in env.inbox.sent if label == "mail")
        assert (opened.title, opened.status, opened.severity) == (
            "Web is down",
            "major_outage",
            "major",
        )
        assert opened.url == "http://127.0.0.1:8080/status/incidents/1"
        assert ended.downtime_seconds == 0.0 and ended.status == "operational"
        assert ended.title.startswith("Web recovered after")


async def test_a_monitor_list_replaces_the_defaults(make_env) -> None:
    monitors = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 1
notify = ["mail"]
[[monitors]]
id = "db"
name = "DB"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 1
[[monitors]]
id = "quiet"
name = "Quiet"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 1
notify = []
"""
    async with make_env(TWO_CHANNELS, monitors=monitors) as env:
        await env.feed("web", "down")
        await env.feed("db", "down")
        await env.feed("quiet", "down")
        by_monitor = Counter((r.monitor_id, r.channel) for r in await env.rows())
        assert by_monitor == {("web", "mail"): 1, ("db", "phone"): 1, ("db", "mail"): 1}
        assert env.engine.tracker("quiet").active_incident is not None  # opened all the same


async def test_a_disabled_channel_gets_no_rows_and_incidents_still_open(make_env) -> None:
    config = TWO_CHANNELS.replace('label = "mail"', 'label = "mail"\nenabled = false')
    async with make_env(config) as env:
        await env.feed("web", "down", "up")
        assert {r.channel for r in await env.rows()} == {"phone"}
        assert env.engine.tracker("web").consecutive_successes == 1
        await env.deliver()
        assert env.inbox.events("mail") == []


async def test_events_filter_and_severity_changes(make_env) -> None:
    config = TWO_CHANNELS.replace('label = "mail"', 'label = "mail"\nevents = ["incident_opened"]')
    monitors = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 2
"""
    async with make_env(config, monitors=monitors) as env:
        # degraded + degraded opens a minor incident; a down raises it to major.
        web = env.config.monitor("web")
        for result in (CheckResult.degraded("slow"), CheckResult.degraded("slow")):
            await env.engine.observe(web, ResultRecord("web", env.clock.now(), result))
        await env.feed("web", "down", "up")
        kinds = [(r.channel, r.event) for r in await env.rows()]
        assert kinds == [
            ("phone", "incident_opened"),
            ("mail", "incident_opened"),
            ("phone", "severity_changed"),
            ("phone", "incident_ended"),
        ]
        await env.deliver()
        opened, raised, _ = (m for label, m in env.inbox.sent if label == "phone")
        assert (opened.title, opened.status) == ("Web is degraded", "degraded")
        assert (raised.previous_severity, raised.severity) == ("minor", "major")
        assert raised.title == "Web is now down (minor → major)"


async def test_operator_updates_are_opt_in(make_env) -> None:
    config = TWO_CHANNELS.replace('label = "mail"', 'label = "mail"\nsend_updates = true')
    async with make_env(config) as env:
        await env.feed("web", "down")
        await env.update(1, "identified", "The disk is full")
        updates = [r for r in await env.rows() if r.event == "incident_update"]
        assert [r.channel for r in updates] == ["mail"]
        await env.deliver()
        update = next(m for label, m in env.inbox.sent if m.event == "incident_update")
        assert update.title == "Web is down: identified"
        assert update.extra["message"] == "The disk is full" and update.incident_id == 1


async def test_maintenance_silences_automatic_events(make_env) -> None:
    config = TWO_CHANNELS.replace(
        'label = "mail"', 'label = "mail"\nnotify_during_maintenance = true'
    )
    async with make_env(config) as env:
        env.maintenance.add("web")
        await env.feed("web", "down")  # flagged as not in maintenance: a boundary case
        assert [r.channel for r in await env.rows()] == ["mail"]
        await env.feed("web", "up")
        # phone never heard of it, so it is not told it ended either.
        assert [(r.channel, r.event) for r in await env.rows()] == [
            ("mail", "incident_opened"),
            ("mail", "incident_ended"),
        ]


async def test_an_incident_told_before_maintenance_is_told_its_end(make_env) -> None:
    async with make_env(TWO_CHANNELS) as env:
        await env.feed("web", "down")
        env.maintenance.add("web")  # a window starts while the incident is open
        await env.update(1)  # operators' updates are not silenced (not opted in here)
        await env.feed("web", "up")
        events = Counter((r.channel, r.event) for r in await env.rows())
        assert events[("phone", "incident_ended")] == 1 and events[("mail", "incident_ended")] == 1


async def test_updates_are_not_silenced_by_maintenance(make_env) -> None:
    config = TWO_CHANNELS.replace('label = "phone"', 'label = "phone"\nsend_updates = true')
    async with make_env(config) as env:
        await env.feed("web", "down")
        env.maintenance.add("web")
        await env.update(1, "monitoring", "Rebooted")
        assert [r.channel for r in await env.rows() if r.event == "incident_update"] == ["phone"]


async def test_an_operator_severity_change_is_sent_when_it_changes_what_is_seen(
    make_env,
) -> None:
    async with make_env(TWO_CHANNELS) as env:
        await env.feed("web", "down")  # major

        async def narrate(changes: dict[str, str | None]) -> None:
            await env.incidents.narrate(1, changes)

        async def changed() -> list[tuple[str, str | None, str | None]]:
            rows = [r for r in await env.rows() if r.event == "severity_changed"]
            return [(r.channel, r.message.previous_severity, r.message.severity) for r in rows]

        await narrate({"severity": "major"})  # the override equals the engine's: no change
        await narrate({"public_title": "Checkout is slow"})
        assert await changed() == []
        await narrate({"severity": "critical"})
        assert await changed() == [("phone", "major", "critical"), ("mail", "major", "critical")]
        await narrate({"severity": None})  # cleared: back to the engine's major
        assert (await changed())[2:] == [
            ("phone", "critical", "major"),
            ("mail", "critical", "major"),
        ]
        await env.feed("web", "up")
        await narrate({"severity": "minor"})  # ended: a correction of the record, not news
        assert len(await changed()) == 4
        await env.deliver()
        sent = [
            m for label, m in env.inbox.sent if label == "phone" and m.event == "severity_changed"
        ]
        assert sent[0].title == "Web is now down (major → critical)" and sent[0].incident_id == 1


async def test_a_private_incident_is_routed_with_the_operators_link_only(make_env) -> None:
    # "db" is on no page: its incident opens and notifies, without a public permalink.
    async with make_env(TWO_CHANNELS, public=frozenset({"web"})) as env:
        await env.check("db", CheckResult.down("connection refused", 0.0042))
        await env.check("db", CheckResult.up("200 OK in 0.085s", 0.085))
        await env.check("web", CheckResult.down("HTTP 503", 1.5))
        await env.deliver()
        by_key = {(label, m.monitor_id, m.event): m for label, m in env.inbox.sent}
        opened = by_key["phone", "db", "incident_opened"]
        assert opened.url is None
        assert opened.operator_url == "http://127.0.0.1:8080/api/v1/incidents/1"
        assert (opened.reason, opened.latency_seconds, opened.check_type) == (
            "connection refused",
            0.0042,
            "http",
        )
        assert opened.text.splitlines()[1:] == [
            "Reason: connection refused (http check, 4 ms)",
            "http://127.0.0.1:8080/api/v1/incidents/1",
        ]
        ended = by_key["mail", "db", "incident_ended"]
        assert ended.url is None and ended.operator_url == opened.operator_url
        assert ended.text.splitlines()[1] == "Last check: 200 OK in 0.085s (http check, 85 ms)"
        public = by_key["phone", "web", "incident_opened"]
        assert public.url == "http://127.0.0.1:8080/status/incidents/2"
        assert public.operator_url == "http://127.0.0.1:8080/api/v1/incidents/2"
        assert public.text.splitlines()[1:] == [
            "Reason: HTTP 503 (http check, 1.50 s)",
            "http://127.0.0.1:8080/status/incidents/2",
        ]


async def test_the_reason_is_scrubbed_of_the_monitors_secrets(make_env) -> None:
    monitors = """
[[monitors]]
id = "api"
name = "API"
type = "http"
url = "http://probe:pw-77c1d0@127.0.0.1:9/"
headers = { Authorization = "Bearer tok-0e4a9b" }
failure_threshold = 1
"""
    async with make_env(TWO_CHANNELS, monitors=monitors) as env:
        leaky = "GET http://probe:pw-77c1d0@127.0.0.1:9/ with Bearer tok-0e4a9b:\n  refused"
        await env.check("api", CheckResult.down(leaky))
        await env.deliver()
        (_, message), _ = env.inbox.sent
        assert message.reason == "GET http://probe:***@127.0.0.1:9/ with ***: refused"
        payload = repr(message.to_json())
        assert "pw-77c1d0" not in payload and "tok-0e4a9b" not in payload
