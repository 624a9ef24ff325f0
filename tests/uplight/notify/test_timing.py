"""Clock-driven rules on a fake clock: the minimum gap, reminders, certificate warnings."""

from __future__ import annotations

import datetime as dt

from uplight.models import CheckResult

PHONE = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
"""


async def test_min_gap_collapses_a_burst_into_one_summary(make_env) -> None:
    async with make_env(PHONE + 'min_gap = "10m"\n') as env:
        await env.feed("web", "down")
        await env.deliver()
        first_sent = env.clock.now()
        env.clock.advance(seconds=30)
        await env.feed("db", "down")
        env.clock.advance(seconds=30)
        await env.feed("web", "up")
        await env.feed("db", "up")
        wake = await env.deliver()
        assert wake == first_sent + dt.timedelta(minutes=10)
        assert env.inbox.events() == ["incident_opened"]  # the rest is held
        env.clock.advance(minutes=5)
        assert await env.deliver() == wake  # still inside the gap
        env.clock.set(wake)
        await env.deliver()
        assert len(env.inbox.sent) == 2
        summary = env.inbox.sent[1][1]
        assert summary.title.startswith("3 updates: DB is down; Web recovered after 1m; DB")
        assert summary.event == "summary" and summary.incident_id is None
        held = [r for r in await env.rows() if r.summary_id is not None]
        assert [i["idempotency_key"] for i in summary.extra["summary"]] == [
            r.idempotency_key for r in held
        ]
        assert {(r.status, r.sent_at) for r in held} == {("sent", wake)}  # auditable
        (row,) = [r for r in await env.rows() if r.is_summary]
        assert row.status == "sent" and row.idempotency_key == summary.idempotency_key
        _, counts = env.service.stats.snapshot()
        assert counts[("phone", "sent")] == 2  # two messages went out


async def test_a_single_held_message_goes_as_it_is(make_env) -> None:
    async with make_env(PHONE + 'min_gap = "5m"\n') as env:
        await env.feed("web", "down")
        await env.deliver()
        await env.feed("web", "up")
        wake = await env.deliver()
        env.clock.set(wake)
        await env.deliver()
        assert env.inbox.events() == ["incident_opened", "incident_ended"]
        assert not any(r.is_summary for r in await env.rows())


async def test_reminders_while_an_incident_is_active(make_env) -> None:
    config = PHONE + 'remind_every = "30m"\n'
    config += '[[notifiers]]\nid = "mail"\ntype = "fake"\nlabel = "mail"\n'
    config = config.replace('notify = ["phone"]', 'notify = ["phone", "mail"]')
    async with make_env(config) as env:
        opened = env.clock.now()
        await env.check("web", CheckResult.down("refused"))
        wake = await env.deliver()
        assert wake == opened + dt.timedelta(minutes=30)
        env.clock.advance(minutes=29)
        await env.deliver()
        assert env.inbox.events("phone") == ["incident_opened"]
        env.clock.set(wake)
        await env.deliver()
        assert env.inbox.events("phone") == ["incident_opened", "reminder"]
        reminder = env.inbox.sent[-1][1]
        assert reminder.title == "Web is still down (30m)"
        # The latest failure the scheduler handed on says why, as the opening did.
        assert (reminder.reason, reminder.check_type) == ("refused", "http")
        assert reminder.operator_url == "http://127.0.0.1:8080/api/v1/incidents/1"
        env.clock.advance(minutes=95)  # three periods later: one reminder, not three
        await env.deliver()
        assert env.inbox.events("phone").count("reminder") == 2
        assert env.inbox.sent[-1][1].extra["reminder"] == 4
        await env.deliver()  # the same moment again queues nothing
        assert env.inbox.events("phone").count("reminder") == 2
        await env.feed("web", "up")
        env.clock.advance(hours=2)
        await env.deliver()
        assert env.inbox.events("phone")[-1] == "incident_ended"
        assert env.inbox.events("phone").count("reminder") == 2
        assert "reminder" not in env.inbox.events("mail")  # no remind_every: no reminders


async def test_reminders_are_not_repeated_after_a_restart(make_env) -> None:
    config = PHONE + 'remind_every = "1h"\n'
    async with make_env(config) as env:
        await env.feed("web", "down")
        env.clock.advance(hours=1)
        await env.deliver()
    async with make_env(config) as env:
        await env.deliver()
        assert env.inbox.events() == ["incident_opened", "reminder"]


async def test_no_reminders_during_maintenance(make_env) -> None:
    async with make_env(PHONE + 'remind_every = "1h"\n') as env:
        await env.feed("web", "down")
        env.maintenance.add("web")
        env.clock.advance(hours=3)
        await env.deliver()
        assert env.inbox.events() == ["incident_opened"]
        env.maintenance.clear()
        await env.deliver()
        assert env.inbox.events() == ["incident_opened", "reminder"]


def tls_result(days_left: float, not_after: str = "2024-05-20T00:00:00Z") -> CheckResult:
    cert = {"days_left": days_left, "not_after": not_after}
    return CheckResult.up("certificate valid", 0.01, cert=cert)


TLS_MONITOR = """
[[monitors]]
id = "cert"
name = "NAS certificate"
type = "tls"
host = "127.0.0.1"
warn_days = 14
critical_days = 3
"""


async def test_certificate_warning_once_per_crossing(make_env) -> None:
    async with make_env(PHONE, monitors=TLS_MONITOR) as env:
        await env.result("cert", tls_result(20))
        await env.result("cert", tls_result(13.9))
        await env.result("cert", tls_result(12))
        await env.result("cert", CheckResult.down("refused"))  # no certificate: no change
        await env.result("cert", tls_result(11))
        await env.deliver()
        assert env.inbox.events() == ["certificate_expiring"]
        warning = env.inbox.sent[0][1]
        assert warning.title == "NAS certificate: certificate expires in 13 days"
        assert warning.extra["not_after"] == "2024-05-20T00:00:00Z"
        # Renewed (back above), then the new certificate crosses again: a second warning.
        await env.result("cert", tls_result(90, "2024-08-01T00:00:00Z"))
        await env.result("cert", tls_result(13, "2024-08-01T00:00:00Z"))
        await env.deliver()
        assert env.inbox.events() == ["certificate_expiring"] * 2


async def test_certificate_warning_survives_a_restart_without_repeating(make_env) -> None:
    async with make_env(PHONE, monitors=TLS_MONITOR) as env:
        await env.result("cert", tls_result(10))
    async with make_env(PHONE, monitors=TLS_MONITOR) as env:
        await env.result("cert", tls_result(9.5))  # same certificate, fresh process
        assert len(await env.rows()) == 1


async def test_certificate_warning_respects_the_events_list(make_env) -> None:
    config = PHONE + 'events = ["incident_opened", "incident_ended"]\n'
    async with make_env(config, monitors=TLS_MONITOR) as env:
        await env.result("cert", tls_result(5))
        assert await env.rows() == []
