"""The delivery worker, pass by pass on a fake clock: retries, dead rows, FIFO, hangs."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict

PHONE = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
"""


async def drain(env, *, limit: int = 50) -> None:
    """Run passes, jumping the clock to each next due time, until nothing is pending."""
    for _ in range(limit):
        wake = await env.deliver()
        if not [r for r in await env.rows() if r.status == "pending"]:
            return
        assert wake is not None, "rows are pending but nothing is due"
        env.clock.set(max(wake, env.clock.now()))
    raise AssertionError("still pending after many passes")


async def test_a_message_is_sent_and_marked(make_env) -> None:
    async with make_env(PHONE) as env:
        await env.feed("web", "down")
        assert await env.deliver() is None  # nothing else due
        (row,) = await env.rows()
        assert (row.status, row.attempts, row.sent_at) == ("sent", 1, env.clock.now())
        assert env.inbox.events() == ["incident_opened"]
        assert env.inbox.sent[0][1].idempotency_key == row.idempotency_key
        facts, counts = env.service.stats.snapshot()
        assert counts[("phone", "sent")] == 1 and facts["phone"].pending == 0
        assert facts["phone"].last_success == env.clock.now()


async def test_failures_are_retried_with_growing_backoff(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.fail = 2
        await env.feed("web", "down")
        t0 = env.clock.now()
        first = await env.deliver()
        assert first is not None and 4.0 <= (first - t0).total_seconds() <= 6.0  # 5 s ± 20 %
        assert await env.deliver() == first  # not due yet: nothing is tried early
        assert env.inbox.attempts == 1
        env.clock.set(first)
        second = await env.deliver()
        assert second is not None and 8.0 <= (second - first).total_seconds() <= 12.0
        (row,) = await env.rows()
        assert (row.status, row.attempts) == ("pending", 2)
        assert row.last_error == "ConnectionError: receiver said no (token )"
        env.clock.set(second)
        assert await env.deliver() is None
        (row,) = await env.rows()
        assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
        assert env.inbox.events() == ["incident_opened"]  # delivered once, in the end
        facts, counts = env.service.stats.snapshot()
        assert (counts[("phone", "failed")], counts[("phone", "sent")]) == (2, 1)
        assert facts["phone"].last_failure == first


async def test_a_message_is_dead_after_its_retry_window(make_env) -> None:
    config = PHONE + 'retry_for = "1m"\nretry_backoff = "10s"\n'
    async with make_env(config) as env:
        env.inbox.down = True
        await env.feed("web", "down")
        created = env.clock.now()
        attempts_at = []
        for _ in range(10):
            before = env.inbox.attempts
            wake = await env.deliver()
            if env.inbox.attempts > before:
                attempts_at.append(env.clock.now())
            if wake is None:
                break
            env.clock.set(wake)
        (row,) = await env.rows()
        assert row.status == "dead" and row.attempts == len(attempts_at)
        # The last attempt is at the end of the window, never before it.
        assert attempts_at[-1] == created + dt.timedelta(minutes=1)
        assert 3 <= len(attempts_at) <= 5
        _, counts = env.service.stats.snapshot()
        assert counts[("phone", "dead")] == 1
        assert counts[("phone", "failed")] == len(attempts_at) - 1
        assert env.service.stats.snapshot()[0]["phone"].dead == 1
        # A dead message does not hold its incident back: the end still goes.
        env.inbox.down = False
        await env.feed("web", "up")
        await env.deliver()
        assert env.inbox.events() == ["incident_ended"]


async def test_a_hanging_channel_fails_that_send_only(make_env) -> None:
    async with make_env(PHONE, send_timeout=0.2) as env:
        env.inbox.hang = 1
        await env.feed("web", "down")
        await env.feed("db", "down")
        started = time.monotonic()
        await env.deliver()
        assert time.monotonic() - started < 2
        web, db = await env.rows()
        assert web.status == "pending" and web.last_error.startswith("TimeoutError")
        assert db.status == "sent"
        assert [m.monitor_id for _, m in env.inbox.sent] == ["db"]


async def test_receiver_down_then_up_every_message_arrives_in_order(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.down = True
        for _ in range(3):  # flapping: incidents 1, 3, 5 on web and 2, 4, 6 on db
            await env.feed("web", "down")
            await env.feed("db", "down")
            env.clock.advance(seconds=7)
            await env.deliver()
            await env.feed("web", "up")
            await env.feed("db", "up")
            env.clock.advance(seconds=3)
            await env.deliver()
        for _ in range(6):  # down a while longer: backoffs grow apart per row
            wake = await env.deliver()
            env.clock.set(wake)
        assert env.inbox.sent == []
        env.inbox.down = False
        await drain(env)
        rows = await env.rows()
        assert len(rows) == 12 and {r.status for r in rows} == {"sent"}
        received = defaultdict(list)
        for _, message in env.inbox.sent:
            received[message.incident_id].append(message.event)
        assert received == {i: ["incident_opened", "incident_ended"] for i in range(1, 7)}
        keys = [m.idempotency_key for _, m in env.inbox.sent]
        assert sorted(keys) == sorted(r.idempotency_key for r in rows)  # each exactly once


async def test_pending_deliveries_resume_after_a_restart(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.down = True
        await env.feed("web", "down")
        await env.deliver()
    env.inbox.down = False
    async with make_env(PHONE) as env:
        env.clock.advance(minutes=1)
        await env.deliver()
        assert env.inbox.events() == ["incident_opened"]
        (row,) = await env.rows()
        assert (row.status, row.attempts) == ("sent", 2)


async def test_errors_are_stored_and_logged_without_secrets(make_env, caplog) -> None:
    caplog.set_level(logging.INFO)
    config = PHONE + 'token = "tok-Very-Secret-42"\n'
    async with make_env(config) as env:
        env.inbox.fail = 1
        await env.feed("web", "down")
        await env.deliver()
        (row,) = await env.rows()
        assert row.last_error == "ConnectionError: receiver said no (token ***)"
        assert env.service.stats.snapshot()[0]["phone"].last_error == row.last_error
        assert "tok-Very-Secret-42" not in caplog.text
        assert "receiver said no (token ***)" in caplog.text
        # The payload holds the message only: no channel option reaches the database.
        raw = await env.store.fetchall("SELECT payload FROM notification_outbox")
        assert "tok-Very-Secret-42" not in raw[0][0]


async def test_rows_of_a_channel_removed_from_the_config_end_dead(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.down = True
        await env.feed("web", "down")
        await env.deliver()
    other = PHONE.replace('"phone"]', '"pager"]').replace('id = "phone"', 'id = "pager"')
    async with make_env(other) as env:
        env.clock.advance(hours=25)
        await env.deliver()
        (row,) = await env.rows()
        assert row.status == "dead" and "no longer configured" in row.last_error


async def test_queue_depth_counts_waiting_messages(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.down = True
        await env.feed("web", "down", "up")
        await env.feed("db", "down")
        await env.deliver()
        facts, _ = env.service.stats.snapshot()
        assert facts["phone"].pending == 3
        assert facts["phone"].oldest_pending == env.clock.now()
        env.inbox.down = False
        await drain(env)
        facts, counts = env.service.stats.snapshot()
        assert facts["phone"].pending == 0 and facts["phone"].oldest_pending is None
        assert counts[("phone", "sent")] == 3


async def test_incidents_on_a_hanging_channel_wait_side_by_side(make_env) -> None:
    """Each waiting incident does not add a send timeout: their queues go together."""
    async with make_env(PHONE, send_timeout=0.4) as env:
        env.inbox.hang = 2
        await env.feed("web", "down")
        await env.feed("db", "down")
        started = time.monotonic()
        await env.deliver()
        assert time.monotonic() - started < 0.75  # one timeout, not two
        assert [r.status for r in await env.rows()] == ["pending", "pending"]


async def test_a_backlog_on_one_channel_does_not_starve_another(make_env) -> None:
    from uplight import Notification
    from uplight.notify import store as outbox

    async with make_env(PHONE) as env:
        now = env.clock.now()

        async def backlog(db) -> None:  # a removed channel's rows, pending for a day
            for n in range(1005):
                message = Notification("test", f"gone-{n}", "t", "x")
                await outbox.insert(db, "gone", message, now)

        await env.store.write(backlog)
        await env.feed("web", "down")
        await env.deliver()
        assert env.inbox.events() == ["incident_opened"]
