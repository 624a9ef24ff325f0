"""Leader election on the harness's real PostgreSQL: one leads, a lost lock
connection deposes (fences) at once, another takes over at its next poll, and a
leader that stops lets go. Steps are driven one by one: no wall-clock waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest

from uplight.leadership.election import APPLICATION_NAME, Election, keepalive_settings


class Events:
    def __init__(self) -> None:
        self.log: list[str] = []

    def election(self, name: str, url: str, **kw: object) -> Election:
        async def elected() -> None:
            self.log.append(f"{name} leads")

        async def deposed() -> None:
            self.log.append(f"{name} deposed")

        return Election(url, poll=0.5, on_elected=elected, on_deposed=deposed, **kw)  # type: ignore[arg-type]


async def _step_until(election: Election, done: Callable[[], object]) -> None:
    """Poll until ``done()``: PostgreSQL frees a lock when the backend has seen its
    session end, a moment after the terminate or close returned (bounded)."""
    for _ in range(100):
        await election.step()
        if done():
            return
        await asyncio.sleep(0.05)


def _kill_sessions(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_one_leads_and_another_takes_over_when_its_connection_dies(
    postgres_url: str,
) -> None:
    events = Events()
    a = events.election("a", postgres_url)
    b = events.election("b", postgres_url)
    try:
        await a.step()
        await b.step()
        assert (a.leading, b.leading) == (True, False)
        await a.step()  # still holds it
        await b.step()
        assert events.log == ["a leads"]

        # The leader's session ends under it (its host gone, an admin's terminate).
        _kill_sessions(postgres_url, a._conn.info.backend_pid)
        await _step_until(b, lambda: b.leading)  # the lock is free: a poll takes it
        assert b.leading
        await a.step()  # the old leader's next poll: it learns, and stops at once
        assert not a.leading
        assert events.log == ["a leads", "b leads", "a deposed"]
        await a.step()  # reconnects as a follower; does not take the held lock
        assert not a.leading and b.leading
    finally:
        await a.stop()
        await b.stop()


async def test_a_stopped_leader_lets_go_and_a_failed_start_gives_the_lead_up(
    postgres_url: str,
) -> None:
    events = Events()
    a = events.election("a", postgres_url)
    calls = {"n": 0}

    async def fails() -> None:
        calls["n"] += 1
        raise RuntimeError("the scheduler did not start")

    async def nothing() -> None:
        pass

    b = Election(postgres_url, poll=0.5, on_elected=fails, on_deposed=nothing)
    try:
        await a.step()
        await b.step()
        assert a.leading and not b.leading
        await a.stop()  # a clean shutdown: the session ends, the lock with it
        await _step_until(b, lambda: calls["n"])
        assert calls["n"] == 1 and not b.leading  # its work failed: it let the lock go
        c = events.election("c", postgres_url)
        await c.step()
        assert c.leading
        await c.stop()
    finally:
        await a.stop()
        await b.stop()


async def test_the_lock_session_carries_keepalives_and_its_name(postgres_url: str) -> None:
    events = Events()
    a = events.election("a", postgres_url)
    try:
        await a.step()
        _, server = keepalive_settings(0.5)
        async with a._conn.cursor() as cursor:
            await cursor.execute("SHOW tcp_keepalives_idle")
            (idle,) = await cursor.fetchone()
            await cursor.execute("SHOW application_name")
            (name,) = await cursor.fetchone()
        # Over TCP the session's keepalive idle is what was set (on a unix socket 0).
        assert idle in (f"{server['tcp_keepalives_idle']}s", str(server["tcp_keepalives_idle"]))
        assert name == APPLICATION_NAME
    finally:
        await a.stop()


@pytest.mark.parametrize("poll", [0.5, 5.0, 30.0])
def test_postgres_frees_a_dead_clients_lock_after_the_leader_fenced(poll: float) -> None:
    """The bound docs/deploy.md states: a partitioned leader fences within two polls
    (one to its next check, one for the check's timeout); PostgreSQL's keepalives
    free its lock no sooner than about three."""
    _, server = keepalive_settings(poll)
    freed = server["tcp_keepalives_idle"] + (
        server["tcp_keepalives_interval"] * server["tcp_keepalives_count"]
    )
    assert freed >= 3 * poll > 2 * poll
