"""Leader election for servers sharing one PostgreSQL database.

Every server serves the page and the APIs; exactly one at a time leads: it runs
the scheduler, the incident engine, the notification worker, maintenance and
pruning. The leader is whoever holds a session-level advisory lock
(``pg_try_advisory_lock``) on a connection of its own. PostgreSQL frees the lock
when that session ends, which is what makes a dead leader's lock come free with no
cooperation from it.

Timing, with ``poll`` = ``[server] leader_poll`` (``p``):

- A follower tries the lock every ``p``. A leader runs ``SELECT 1`` on its lock
  connection every ``p``; an error, or no answer within ``p``, deposes it at once
  (``on_deposed``: its leading work is stopped before anything else), and it drops
  the connection, so the lock is surely free.
- A killed leader process: the kernel closes its socket, PostgreSQL ends the
  session and frees the lock at once; a follower takes over within ``p``.
- A leader whose host or network died: PostgreSQL learns it from TCP keepalives set
  on the session (idle ``2p``, then two probes ``p/2`` apart: about ``3p``), then a
  follower takes over within ``p``: within about ``4p`` in all. The old leader, if
  it is alive on the other side of a partition, fenced itself within ``2p`` of its
  last answer, before PostgreSQL freed its lock.

With SQLite there is one server: ``SoleServer`` leads from the start, at no cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..db.postgres import scrub_url
from ..tasks import cancel_and_wait

log = logging.getLogger(__name__)

# The advisory lock's key: fixed and arbitrary ("uplight" and 2), beside the
# migrations' lock (db/store.py's MIGRATION_LOCK, "uplight" and 1).
LEADER_LOCK = 0x75706C6967687402
APPLICATION_NAME = "uplight-leader"  # how the session shows in pg_stat_activity

Hook = Callable[[], Awaitable[None]]


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    @property
    def shared(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SoleServer:
    """SQLite: the only server, so the leader from start to stop."""

    leading = True
    shared = False

    def __init__(self, on_elected: Hook) -> None:
        self._on_elected = on_elected

    async def start(self) -> None:
        await self._on_elected()

    async def stop(self) -> None:
        pass


def keepalive_settings(poll: float) -> tuple[dict[str, int], dict[str, int]]:
    """The lock connection's TCP settings for a poll interval: libpq's (this side
    notices a dead server) and the session's (the server notices a dead client
    and frees the lock: about ``3 * poll``). Whole seconds, at least one."""

    def seconds(value: float) -> int:
        return max(1, math.ceil(value))

    client = {
        "keepalives": 1,
        "keepalives_idle": seconds(poll),
        "keepalives_interval": seconds(poll / 2),
        "keepalives_count": 2,
        "tcp_user_timeout": seconds(2 * poll) * 1000,  # unacknowledged data, in ms
    }
    server = {
        "tcp_keepalives_idle": seconds(2 * poll),
        "tcp_keepalives_interval": seconds(poll / 2),
        "tcp_keepalives_count": 2,
        "tcp_user_timeout": seconds(3 * poll) * 1000,
    }
    return client, server


class Election:
    """Tries for the lock every ``poll`` seconds; calls ``on_elected`` on winning it
    and ``on_deposed`` as soon as it may have lost it."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        poll: float,
        on_elected: Hook,
        on_deposed: Hook,
        key: int = LEADER_LOCK,
    ) -> None:
        self.url = url
        self.poll = poll
        self.key = key
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._conn: Any = None  # a psycopg AsyncConnection, autocommit
        self._leading = False
        self._task: asyncio.Task[None] | None = None
        self._unreachable_logged = False
        self.elections = 0  # how many times this server won the lock (tests, logs)

    @property
    def leading(self) -> bool:
        return self._leading

    async def start(self) -> None:
        """One attempt now (a lone server leads before it serves), then the loop."""
        await self.step()
        self._task = asyncio.create_task(self._run(), name="uplight-leader-election")

    async def stop(self) -> None:
        """Stop trying and let go of the lock (the caller stopped its leading work)."""
        await cancel_and_wait(self._task)
        self._task = None
        self._leading = False
        await self._drop_connection()  # ending the session frees the lock at once

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.step()
            except Exception:
                log.exception("leader election step failed")

    async def step(self) -> None:
        """One poll: a follower tries the lock, a leader checks it still holds it."""
        if self._leading:
            if not await self._still_connected():
                await self._depose("lost the connection that holds the leader lock")
            return
        if not await self._try_lock():
            return
        self._leading = True
        self.elections += 1
        log.info("this server leads (took the leader lock on %s)", scrub_url(self.url))
        try:
            await self._on_elected()
        except Exception:
            log.exception("starting the leader's work failed; giving the lead up")
            await self._depose("its leading work did not start")

    async def _depose(self, why: str) -> None:
        # Fencing first: the leading work stops before anything else happens, so no
        # moment has two servers running checks and sending notifications.
        self._leading = False
        log.warning("this server no longer leads: %s", why)
        try:
            await self._on_deposed()
        finally:
            await self._drop_connection()

    async def _try_lock(self) -> bool:
        try:
            if self._conn is None:
                self._conn = await self._connect()
            row = await self._query("SELECT pg_try_advisory_lock(%s)", (self.key,))
        except Exception as exc:
            if not self._unreachable_logged:  # once per outage, not once per poll
                log.warning("leader election: %s unreachable: %s", scrub_url(self.url), exc)
                self._unreachable_logged = True
            await self._drop_connection()
            return False
        self._unreachable_logged = False
        return bool(row and row[0])

    async def _still_connected(self) -> bool:
        try:
            row = await self._query("SELECT 1", ())
        except Exception as exc:
            log.warning("leader lock connection failed: %s", exc)
            return False
        return bool(row and row[0] == 1)

    async def _query(self, sql: str, params: tuple[Any, ...]) -> Any:
        async def run() -> Any:
            async with self._conn.cursor() as cursor:
                await cursor.execute(sql, params)
                return await cursor.fetchone()

        # No answer within a poll is as good as none: a partitioned leader fences
        # itself well before PostgreSQL's keepalives free its lock (about 3 polls).
        return await asyncio.wait_for(run(), timeout=self.poll)

    async def _connect(self) -> Any:
        import psycopg

        client, server = keepalive_settings(self.poll)
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                application_name=APPLICATION_NAME,
                connect_timeout=max(2, math.ceil(self.poll)),
                **client,
            ),
            timeout=max(2.0, 2 * self.poll),
        )
        try:
            async with conn.cursor() as cursor:
                for name, value in server.items():
                    # Per session: how soon PostgreSQL notices that this side is gone.
                    await cursor.execute(f"SET {name} = {int(value)}")
        except Exception:
            await conn.close()
            raise
        return conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=1.0)
