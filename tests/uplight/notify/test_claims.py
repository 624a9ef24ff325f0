"""Outbox claims: with several servers on one database, each send first claims its
row for a lease, so two workers never send a row at once, and a row claimed by a
leader that died mid-send is sent again (once, same key) when the lease ends."""

from __future__ import annotations

import asyncio
import datetime as dt

from uplight.notify import store as outbox
from uplight.notify.worker import CLAIM_MARGIN

PHONE = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
"""


async def test_a_claim_is_taken_once(make_env) -> None:
    async with make_env(PHONE) as env:
        env.inbox.down = True  # queued, not sent
        await env.feed("web", "down")
        (row,) = await env.rows()
        until = row.next_attempt_at + dt.timedelta(seconds=40)

        def claim(db):
            return outbox.claim(db, row.id, row.next_attempt_at, until)

        assert await env.store.write(claim) is True
        assert await env.store.write(claim) is False  # the same due time is gone
        (after,) = await env.rows()
        assert (after.status, after.next_attempt_at, after.attempts) == ("pending", until, 0)


async def test_a_row_claimed_by_a_dead_leader_is_sent_once_when_its_lease_ends(
    make_env,
) -> None:
    async with make_env(PHONE, send_timeout=5.0) as leader:
        leader.service.worker.claims = True  # as on PostgreSQL, on both databases
        leader.inbox.hang = 1  # the send is under way when the leader dies
        await leader.feed("web", "down")
        dying = asyncio.create_task(leader.deliver())
        for _ in range(200):  # bounded: the claim's write, then the send starts
            if leader.inbox.attempts:
                break
            await asyncio.sleep(0.01)
        assert leader.inbox.attempts == 1
        dying.cancel()  # SIGKILL, as far as the outbox can tell: claimed, never marked
        await asyncio.gather(dying, return_exceptions=True)
        claimed_at = leader.clock.now()
    # The next leader, on the same database and clock.
    async with make_env(PHONE, send_timeout=5.0) as follower:
        follower.service.worker.claims = True
        wake = await follower.deliver()
        assert follower.inbox.sent == []  # the lease holds: not sent twice at once
        lease_end = claimed_at + dt.timedelta(seconds=5.0 + CLAIM_MARGIN)
        assert wake is not None and wake <= lease_end
        follower.clock.set(lease_end)
        await follower.deliver()
        (row,) = await follower.rows()
        assert row.status == "sent"
        assert [m.idempotency_key for _, m in follower.inbox.sent] == [row.idempotency_key]
        follower.clock.advance(minutes=5)
        await follower.deliver()
        assert len(follower.inbox.sent) == 1


async def test_two_workers_on_one_outbox_send_each_row_once(make_env) -> None:
    async with make_env(PHONE) as first, make_env(PHONE) as second:
        for env in (first, second):
            env.service.worker.claims = True
        first.inbox.down = True
        await first.feed("web", "down")
        await first.feed("db", "down")
        first.inbox.down = False
        first.clock.advance(minutes=1)
        for _ in range(3):  # side by side, several passes: each row goes once
            await asyncio.gather(first.deliver(), second.deliver())
        rows = await first.rows()
        assert [r.status for r in rows] == ["sent", "sent"]
        keys = sorted(m.idempotency_key for _, m in first.inbox.sent)
        assert keys == sorted(r.idempotency_key for r in rows)
