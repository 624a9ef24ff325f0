"""Heartbeats: pings routed to the monitor whose secret token they carry.

The core side of a check type that ``accepts_pings`` (the built-in ``push``): which
monitor a token names, what uplight remembers of each monitor's pings
(:class:`~uplight.checks.PingState`, kept in ``push_pings`` so a restart keeps it),
and a ping's way in: the check type's ``on_ping`` says what result it stands for,
which is recorded at once through the scheduler's listeners (stored, counted,
watched for incidents and notifications, like a check's). The silence between
pings is judged by the check type's ``check``, which the scheduler runs on its
interval with this state in its context.

Tokens are looked up by their SHA-256, so the time a lookup takes says nothing
about how much of a token was right; they are never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..checks import CheckContext, CheckType, Ping, PingKind, PingState
from ..clock import Clock
from ..config import MonitorConfig
from ..db.store import Store
from ..models import CheckResult
from . import push_store
from .faults import describe, validated
from .store import latest_statuses

log = logging.getLogger(__name__)

# What a token must look like to be a URL path segment nobody can guess.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{20,200}")
TOKEN_RULE = "20 to 200 characters among letters, digits and . _ ~ -"

Record = Callable[[str, CheckResult, str | None], Awaitable[Any]]


class PingSetupError(ValueError):
    """A push monitor's token cannot route pings (invalid, or another monitor's too)."""


def ping_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ping/{token}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def monitor_token(monitor: MonitorConfig, check_type: CheckType) -> str:
    """The monitor's ping token, checked; :class:`PingSetupError` names the monitor
    (never the token)."""
    try:
        token = check_type.ping_token(monitor.options)
    except Exception as exc:
        raise PingSetupError(
            f"monitor {monitor.id!r}: check type {monitor.type!r} gave no ping token"
            f" ({type(exc).__name__})"
        ) from None
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise PingSetupError(f"monitor {monitor.id!r}: its ping token must be {TOKEN_RULE}")
    return token


def token_index(
    monitors: Iterable[MonitorConfig], check_types: dict[str, CheckType]
) -> dict[bytes, MonitorConfig]:
    """Each push monitor by the digest of its token; two monitors sharing a token is an
    error naming both."""
    index: dict[bytes, MonitorConfig] = {}
    for monitor in monitors:
        check_type = check_types.get(monitor.type)
        if check_type is None or not check_type.accepts_pings:
            continue
        digest = _digest(monitor_token(monitor, check_type))
        if digest in index:
            raise PingSetupError(
                f"monitors {index[digest].id!r} and {monitor.id!r} have the same ping token;"
                " give each its own"
            )
        index[digest] = monitor
    return index


def advance(state: PingState, ping: Ping) -> PingState:
    """The state after a ping: a success or a failure ends a started run."""
    at = ping.received_at
    if ping.kind == "start":
        return dataclasses.replace(state, last_start=at)
    if ping.kind == "success":
        return dataclasses.replace(state, last_success=at, last_start=None)
    return dataclasses.replace(state, last_failure=at, last_start=None)


class PingService:
    """Routes pings to push monitors and keeps their ping state.

    ``record`` hands a result on as a check's would be (the scheduler's ``record``).
    """

    def __init__(
        self,
        store: Store,
        monitors: Iterable[MonitorConfig],
        check_types: dict[str, CheckType],
        *,
        clock: Clock,
        record: Record | None = None,
    ) -> None:
        self._store = store
        self._check_types = check_types
        self._clock = clock
        self.record = record
        self._by_digest = token_index(monitors, check_types)
        self._states: dict[str, PingState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ready = asyncio.Event()
        self.received = 0  # pings accepted since start-up

    @property
    def monitor_ids(self) -> list[str]:
        return [m.id for m in self._by_digest.values()]

    async def start(self) -> None:
        """Load the ping state; what the previous run last recorded marks its end."""
        now = self._clock.now()
        ids = self.monitor_ids
        rows = await push_store.watch(self._store, ids, now)
        latest = await latest_statuses(self._store, ids)
        for row in rows:
            seen = [row.last_success, row.last_failure, row.last_start]
            if row.monitor_id in latest:
                seen.append(latest[row.monitor_id].checked_at)
            known = [t for t in seen if t is not None and t <= now]
            self._states[row.monitor_id] = PingState(
                watched_since=row.watched_since,
                resumed_at=now,
                offline_since=max(known) if known else None,
                last_success=row.last_success,
                last_failure=row.last_failure,
                last_start=row.last_start,
            )
        self._ready.set()

    def state(self, monitor_id: str) -> PingState | None:
        """A push monitor's ping state (None for any other monitor, or before start)."""
        return self._states.get(monitor_id)

    def find(self, token: str) -> MonitorConfig | None:
        return self._by_digest.get(_digest(token))

    def token_of(self, monitor: MonitorConfig) -> str | None:
        check_type = self._check_types.get(monitor.type)
        if check_type is None or not check_type.accepts_pings:
            return None
        return monitor_token(monitor, check_type)

    async def receive(
        self, monitor: MonitorConfig, kind: PingKind, exit_code: int | None, body: str
    ) -> None:
        """Take one ping: its result recorded, the state moved on and saved."""
        await self._ready.wait()
        lock = self._locks.setdefault(monitor.id, asyncio.Lock())
        async with lock:
            now = self._clock.now()
            ping = Ping(kind, now, exit_code, body)
            state = self._states[monitor.id]
            context = CheckContext(monitor.id, monitor.timeout, now=now, pings=state)
            result, reason = self._judge(monitor, ping, context)
            state = self._states[monitor.id] = advance(state, ping)
            await push_store.save(
                self._store,
                push_store.PingRow(
                    monitor.id,
                    state.watched_since,
                    state.last_success,
                    state.last_failure,
                    state.last_start,
                ),
            )
            self.received += 1
            if result is not None and self.record is not None:
                await self.record(monitor.id, result, reason)

    def _judge(
        self, monitor: MonitorConfig, ping: Ping, context: CheckContext
    ) -> tuple[CheckResult | None, str | None]:
        """``on_ping``'s result, with a plugin's fault turned into a ``down`` one."""
        kind = monitor.type
        try:
            value = self._check_types[kind].on_ping(monitor.options, ping, context)
        except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
            # Like a check's: even sys.exit() costs only this monitor one result.
            what = describe(exc)
            log.warning("check type %r raised on a ping for monitor %s: %s", kind, monitor.id, what)
            return CheckResult.down(f"check plugin {kind!r} failed on a ping: {what}"), "exception"
        if value is None:
            return None, None
        if inspect.iscoroutine(value):
            value.close()  # on_ping must not wait; never awaited, so close it quietly
        result, problem = validated(value, kind)
        if problem:
            log.warning("monitor %s: %s", monitor.id, problem)
            return CheckResult.down(problem), "invalid_result"
        return result, None
