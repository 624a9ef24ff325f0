"""The delivery worker: moves outbox rows to their channels, at least once.

One asyncio task. Each pass (``run_once``) queues due reminders, reads the
pending rows oldest first and delivers them, channel by channel, concurrently
across channels. Rules:

- FIFO per (channel, incident): a message is never sent while an earlier one of
  the same incident on the same channel is pending (waiting out a backoff).
  Messages without an incident are ordered per (channel, monitor).
- Every send runs under ``send_timeout``; a plugin that raises or hangs fails
  that attempt only. A failed attempt is retried after ``retry_backoff * 2^n``
  (capped at an hour, ±20 % jitter) until ``retry_for`` has passed since the
  row was queued; the attempt at or after that deadline is the last, and its
  failure makes the row ``dead``.
- ``min_gap``: after a delivery, nothing more goes to that channel until the gap
  has passed; then everything held goes as one summary message (the held rows
  are kept, pointing at the summary, and take its fate).
- The worker wakes when a row is queued, at the next due time, and at least
  every minute. A send that was cut short (SIGKILL, shutdown) leaves the row
  pending: it is sent again after the restart with the same idempotency key.
- With ``claims`` (PostgreSQL, where several servers share the outbox and the
  lead may pass from one to another), each send first claims its row in its own
  transaction (``outbox.claim``: compare and set on the next attempt time, moved
  to the end of a lease of the send's time limit plus ``CLAIM_MARGIN``). Two
  workers never send the same row at once; a row claimed by a leader that died
  mid-send is sent by the next when the lease ends, with the same idempotency key.

Errors are logged and stored without secrets: the exception's type and text,
with every secret value of the channel's options replaced by ``***``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiosqlite

from ..clock import Clock
from ..config import Config
from ..db.store import Store
from ..notifiers import Notification, Notifier
from ..tasks import cancel_and_wait
from . import messages
from . import store as outbox
from .config import NotifierConfig
from .reminders import ReminderPlanner
from .scrub import describe_error
from .stats import NotificationStats
from .store import OutboxRow

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0
DEFAULT_RETRY_FOR = 86400.0  # for rows of a channel no longer configured
DEFAULT_BACKOFF = 5.0
MAX_BACKOFF = 3600.0
JITTER = 0.2
MAX_SLEEP = 60.0
ERROR_PAUSE = 5.0
BATCH = 1000
CLAIM_MARGIN = 10.0  # seconds a claim outlives its send's limit: the outcome's write
PRUNE_EVERY = dt.timedelta(hours=1)
_BARRIER = ("*",)  # a summary waiting for its retry holds everything after it


class ChannelUnavailable(Exception):
    """The row's channel is gone from the config, disabled, or its type not installed."""


class DeliveryWorker:
    def __init__(
        self,
        config: Config,
        notifier_types: Mapping[str, type[Notifier]],
        store: Store,
        stats: NotificationStats,
        reminders: ReminderPlanner,
        *,
        clock: Clock,
        send_timeout: float = SEND_TIMEOUT,
        rng: random.Random | None = None,
        claims: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.claims = claims
        self.stats = stats
        self.reminders = reminders
        self.clock = clock
        self.send_timeout = send_timeout
        self._types = notifier_types
        self._rng = rng or random.Random()
        self._instances: dict[str, Notifier] = {}
        self._last_sent: dict[str, dt.datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Task[Any]] = set()  # sends that ignored cancellation
        self._pruned_at: dt.datetime | None = None
        # Passes never overlap: two would both read the same pending row and send it twice.
        self._pass_lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def load(self) -> None:
        """What a restart needs from the outbox: the last delivery per channel, queue facts."""
        self._last_sent = await outbox.last_sent(self.store)
        await self.refresh()

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._run(), name="uplight-notifications")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the pass: a row queued during it wakes the next
            try:
                next_at = await self.run_once()
            except Exception:
                log.exception("notification delivery pass failed")
                next_at = self.clock.now() + dt.timedelta(seconds=ERROR_PAUSE)
            sleep = MAX_SLEEP
            if next_at is not None:
                sleep = min(MAX_SLEEP, max(0.0, (next_at - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sleep)

    # -- one pass -------------------------------------------------------------------

    async def run_once(self) -> dt.datetime | None:
        """Deliver everything due now; return when something next falls due (or None)."""
        async with self._pass_lock:
            return await self._pass()

    async def _pass(self) -> dt.datetime | None:
        now = self.clock.now()
        wake: list[dt.datetime] = []
        reminder_at = await self.reminders.plan(now)
        if reminder_at is not None:
            wake.append(reminder_at)
        # Read through the writer: it runs after any transaction that queued a row and
        # woke us, so the row is committed and visible here.
        rows = await self.store.write(lambda db: outbox.pending(db, BATCH))
        by_channel: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_channel[row.channel].append(row)
        # Every channel finishes its part before the pass ends, even if another's
        # failed: a send still running would otherwise race the next pass's copy.
        found = await asyncio.gather(
            *(self._deliver_channel(ch, its, now) for ch, its in by_channel.items()),
            return_exceptions=True,
        )
        for channel, outcome in zip(by_channel, found, strict=True):
            if isinstance(outcome, BaseException):
                log.error("delivering to %s failed: %r", channel, outcome)
                wake.append(now + dt.timedelta(seconds=ERROR_PAUSE))
            elif outcome is not None:
                wake.append(outcome)
        await self._prune(now)
        await self.refresh()
        return min(wake, default=None)

    async def refresh(self) -> None:
        facts = await outbox.queue_facts(self.store)
        self.stats.set_queue(
            {c: (f.pending, f.dead, f.oldest_pending) for c, f in facts.items()}, self._last_sent
        )

    async def _deliver_channel(
        self, channel: str, rows: list[OutboxRow], now: dt.datetime
    ) -> dt.datetime | None:
        settings = self.config.notifier(channel)
        gap = dt.timedelta(seconds=settings.min_gap if settings else 0.0)
        last = self._last_sent.get(channel)
        if gap and last is not None and now < last + gap:
            # Held: the earliest anything could go is when the gap is over.
            return max(last + gap, min(r.next_attempt_at for r in rows))
        ready, wake = _ready(rows, now)
        if gap and ready:
            if ready[0].is_summary:
                ready = ready[:1]
            else:
                burst = _until_summary(ready)
                ready = [await self._collapse(channel, burst, now)] if len(burst) > 1 else burst
        if any(row.is_summary for row in ready):
            wake.extend(await self._in_order(channel, settings, ready))
            return min(wake, default=None)
        # One queue per incident, in order; the queues go side by side, so a receiver
        # that hangs costs one send timeout per pass, not one per waiting incident.
        queues: dict[tuple[Any, ...], list[OutboxRow]] = defaultdict(list)
        for row in ready:
            queues[_fifo_key(row)].append(row)
        for retries in await asyncio.gather(
            *(self._in_order(channel, settings, queue) for queue in queues.values())
        ):
            wake.extend(retries)
        return min(wake, default=None)

    async def _in_order(
        self, channel: str, settings: NotifierConfig | None, rows: list[OutboxRow]
    ) -> list[dt.datetime]:
        """Send rows one after another; a failure holds back the rest of its queue
        (and a failed summary everything after it). Returns the retry times."""
        failed: set[tuple[Any, ...]] = set()
        wake: list[dt.datetime] = []
        for row in rows:
            key = _fifo_key(row)
            if _BARRIER in failed:
                break
            if key in failed:
                continue
            retry_at = await self._attempt(channel, settings, row)
            if retry_at is not None:
                # A dead row (None) is finished: the next one of its incident may go.
                failed.add(_BARRIER if row.is_summary else key)
                wake.append(retry_at)
        return wake

    async def _collapse(self, channel: str, rows: list[OutboxRow], now: dt.datetime) -> OutboxRow:
        summary = messages.summary([r.message for r in rows], now)
        created = min(r.created_at for r in rows)  # the retry window runs from the oldest

        async def write(db: aiosqlite.Connection) -> int:
            return await outbox.collapse(db, channel, [r.id for r in rows], summary, created, now)

        summary_id = await self.store.write(write)
        log.info("channel %s: %d held messages collapsed into one summary", channel, len(rows))
        return OutboxRow(
            id=summary_id,
            channel=channel,
            event=summary.event,
            idempotency_key=summary.idempotency_key,
            message=summary,
            incident_id=summary.incident_id,
            monitor_id=summary.monitor_id,
            created_at=created,
            next_attempt_at=now,
            attempts=0,
            last_error=None,
            status="pending",
            sent_at=None,
            is_summary=True,
            summary_id=None,
        )

    async def _attempt(
        self, channel: str, settings: NotifierConfig | None, row: OutboxRow
    ) -> dt.datetime | None:
        """Send one row; record the outcome. Returns the retry time after a failure."""
        if self.claims:
            held = await self._claim(settings, row)
            if held is not None:
                return held  # another worker has it: its queue waits, as after a failure
        try:
            notifier = self._notifier(channel, settings)
            assert settings is not None
            await self._send(notifier, settings.options, row.message)
        except Exception as exc:
            return await self._failed(channel, settings, row, exc)
        at = self.clock.now()
        await self._write(lambda db: outbox.mark_sent(db, row.id, at))
        self._last_sent[channel] = at
        self.stats.count(channel, "sent", at)
        log.info("notification %d (%s) sent to %s", row.id, row.event, channel)
        return None

    async def _failed(
        self, channel: str, settings: NotifierConfig | None, row: OutboxRow, exc: Exception
    ) -> dt.datetime | None:
        error = describe_error(exc, settings.options if settings else None)
        at = self.clock.now()
        retry_for = settings.retry_for if settings else DEFAULT_RETRY_FOR
        deadline = row.created_at + dt.timedelta(seconds=retry_for)
        attempts = row.attempts + 1
        if at >= deadline:
            await self._write(lambda db: outbox.mark_dead(db, row.id, error))
            self.stats.count(channel, "dead", at, error)
            log.error(
                "notification %d (%s) to %s is dead after %d attempts: %s",
                row.id, row.event, channel, attempts, error,
            )  # fmt: skip
            return None
        base = settings.retry_backoff if settings else DEFAULT_BACKOFF
        delay = min(MAX_BACKOFF, base * 2 ** (attempts - 1))
        delay *= self._rng.uniform(1 - JITTER, 1 + JITTER)
        retry_at = min(at + dt.timedelta(seconds=delay), deadline)
        retry_at = retry_at.replace(microsecond=retry_at.microsecond // 1000 * 1000)  # as stored
        await self._write(lambda db: outbox.schedule_retry(db, row.id, retry_at, error))
        self.stats.count(channel, "failed", at, error)
        log.warning(
            "notification %d (%s) to %s failed (attempt %d), retry in %.0fs: %s",
            row.id, row.event, channel, attempts, (retry_at - at).total_seconds(), error,
        )  # fmt: skip
        return retry_at

    async def _claim(self, settings: NotifierConfig | None, row: OutboxRow) -> dt.datetime | None:
        """Claim ``row`` for this send; None when claimed, else when to look again."""
        limit = send_limit(settings.options if settings else None, self.send_timeout)
        until = self.clock.now() + dt.timedelta(seconds=limit + CLAIM_MARGIN)
        until = until.replace(microsecond=until.microsecond // 1000 * 1000)  # as stored
        claimed: bool = await self.store.write(
            lambda db: outbox.claim(db, row.id, row.next_attempt_at, until)
        )
        if claimed:
            return None
        log.info("notification %d is claimed elsewhere or done; not sent from here", row.id)
        return until

    def _notifier(self, channel: str, settings: NotifierConfig | None) -> Notifier:
        if settings is None:
            raise ChannelUnavailable(f"channel {channel!r} is no longer configured")
        if not settings.enabled:
            raise ChannelUnavailable(f"channel {channel!r} is disabled")
        instance = self._instances.get(settings.type)
        if instance is None:
            cls = self._types.get(settings.type)
            if cls is None:
                raise ChannelUnavailable(f"notifier type {settings.type!r} is not installed")
            instance = self._instances[settings.type] = cls()
        return instance

    async def _send(self, notifier: Notifier, options: Any, message: Notification) -> None:
        limit = send_limit(options, self.send_timeout)
        await send_bounded(notifier, options, message, limit, self._abandoned)

    async def _write(self, fn: Callable[[aiosqlite.Connection], Awaitable[None]]) -> None:
        await self.store.write(fn)

    async def _prune(self, now: dt.datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        cutoff = now - dt.timedelta(days=self.config.storage.retention_days)
        deleted = await self.store.write(lambda db: outbox.prune(db, cutoff))
        if deleted:
            log.info("pruned %d delivered or dead notifications", deleted)


def send_limit(options: Any, default: float) -> float:
    """The host's timeout for one send: ``default``, or longer when the channel's own
    ``timeout`` option asks for more (so the channel reports its own, clearer error)."""
    own = getattr(options, "timeout", None)
    if isinstance(own, int | float) and not isinstance(own, bool):
        return max(default, float(own) + 5.0)
    return default


async def send_bounded(
    notifier: Notifier,
    options: Any,
    message: Notification,
    timeout: float,
    abandoned: set[asyncio.Task[Any]] | None = None,
) -> None:
    """``notifier.send`` under ``timeout``: a plugin that hangs fails this send only.

    The send runs in its own task, so one that ignores its cancellation is left
    behind (kept referenced in ``abandoned``) instead of holding the worker.
    """
    task = asyncio.create_task(notifier.send(options, message))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_consume)
        if abandoned is not None:
            abandoned.add(task)
            task.add_done_callback(abandoned.discard)
        raise TimeoutError(f"the channel did not answer within {timeout:g}s")
    if task.cancelled():  # the plugin cancelled itself: a failed send, not our shutdown
        raise RuntimeError("the channel's send was cancelled")
    error = task.exception()
    if isinstance(error, Exception):
        raise error
    if error is not None:  # e.g. a BaseException subclass: still only this send's failure
        raise RuntimeError(f"the channel raised {type(error).__name__}") from error


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


def _fifo_key(row: OutboxRow) -> tuple[Any, ...]:
    if row.incident_id is not None:
        return ("incident", row.incident_id)
    if row.monitor_id is not None:
        return ("monitor", row.monitor_id)
    return ("row", row.id)


def _ready(rows: list[OutboxRow], now: dt.datetime) -> tuple[list[OutboxRow], list[dt.datetime]]:
    """The due rows that nothing earlier holds back, in order; and when held ones wait until."""
    blocked: set[tuple[Any, ...]] = set()
    ready: list[OutboxRow] = []
    wake: list[dt.datetime] = []
    for row in rows:
        if _BARRIER in blocked:
            break
        key = _fifo_key(row)
        if key in blocked:
            continue
        if row.next_attempt_at > now:
            wake.append(row.next_attempt_at)
            blocked.add(_BARRIER if row.is_summary else key)
            continue
        ready.append(row)
    return ready, wake


def _until_summary(rows: list[OutboxRow]) -> list[OutboxRow]:
    out = []
    for row in rows:
        if row.is_summary:
            break
        out.append(row)
    return out
