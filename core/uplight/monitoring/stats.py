"""Check statistics kept in memory: a scheduler listener that ``/metrics`` reads.

``CheckStats`` sees every result once and keeps cumulative counters and
histogram buckets per monitor, plus what the checks last reported in their
``details``, so the collector can build the metrics check types declare
without ever reading the database.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import MonitorConfig
from ..interning import Interner
from ..models import CheckStatus, ResultRecord

# Check latencies span a few ms (loopback) to the 30 s a slow target may be given.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
RESULTS: tuple[str, ...] = tuple(s.value for s in CheckStatus)
ERROR_REASONS: tuple[str, ...] = ("exception", "timeout", "invalid_result")
# Details keys kept per monitor. A check's keys are a fixed set in practice; past
# this many (keys that change every check), only the last result's are kept.
MAX_KEPT_KEYS = 64


@dataclass(frozen=True, slots=True)
class Reported:
    """A value a check put in its result's details, and when uplight saw it."""

    value: Any
    observed_at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """Cumulative counts and last reported details for one monitor.

    Never changed once stored: each result stores a new one (:meth:`CheckStats.observe`),
    so a snapshot shares them instead of copying 10,000 of them on the event loop.
    """

    checks: Counter[str] = field(default_factory=Counter)  # by result word
    # Non-cumulative counts per bucket; the extra last slot is "above the largest bound".
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    status: CheckStatus | None = None
    in_maintenance: bool = False
    last_checked: float | None = None  # unix seconds of the last check's start
    # Latest non-null value of every details key, and the keys the last result had.
    reported: dict[str, Reported] = field(default_factory=dict)
    current: frozenset[str] = frozenset()

    def copy(self) -> MonitorStats:
        # Counter(counter) and dataclasses.replace cost ten times this (an ABC check,
        # field introspection); observe() copies on every result.
        checks: Counter[str] = Counter()
        dict.update(checks, self.checks)
        return MonitorStats(
            checks,
            list(self.buckets),
            self.latency_sum,
            self.status,
            self.in_maintenance,
            self.last_checked,
            dict(self.reported),
            self.current,
        )

    def detail(self, key: str, *, keep_last_known: bool = False) -> Reported | None:
        """``details[key]`` of the last result, or of the latest result that had it."""
        if not keep_last_known and key not in self.current:
            return None
        return self.reported.get(key)


class CheckStats:
    """Accumulates every check result; register ``observe`` as a scheduler listener."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._monitors: dict[str, MonitorStats] = {}
        self._errors: Counter[tuple[str, str]] = Counter()  # by (check type, reason)
        # Scrapes and checks share the event loop today; the lock keeps snapshots
        # consistent should a scrape ever be served from another thread.
        self._lock = threading.Lock()

    def observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        try:
            status = CheckStatus(record.result.status)
        except ValueError:
            return  # the scheduler validates results; anything else is not counted
        details = record.result.details if isinstance(record.result.details, dict) else {}
        present = {k: v for k, v in details.items() if isinstance(k, str) and v is not None}
        now = self._clock()
        latency = _latency(record.result.latency)
        checked_at = (
            record.checked_at.timestamp() if isinstance(record.checked_at, dt.datetime) else None
        )
        with self._lock:
            old = self._monitors.get(monitor.id) or _EMPTY
            checks: Counter[str] = Counter()
            dict.update(checks, old.checks)
            checks[status.value] += 1
            buckets, latency_sum = old.buckets, old.latency_sum
            if latency is not None:
                buckets = list(buckets)
                buckets[_bucket_index(latency)] += 1
                latency_sum += latency
            # A key missing from this result keeps its last value: metrics that ask
            # for it (a certificate, when a handshake failed) still read it.
            reported = dict(old.reported)
            reported.update((k, Reported(v, now)) for k, v in present.items())
            if len(reported) > MAX_KEPT_KEYS:
                reported = {k: reported[k] for k in present}
            self._monitors[monitor.id] = MonitorStats(
                checks,
                buckets,
                latency_sum,
                status,
                bool(record.in_maintenance),
                checked_at,
                reported,
                _key_set(present),
            )
            if record.error_reason:
                reason = record.error_reason if record.error_reason in ERROR_REASONS else "other"
                self._errors[(monitor.type, reason)] += 1

    def snapshot(self) -> tuple[dict[str, MonitorStats], Counter[tuple[str, str]]]:
        """One consistent moment: the stats objects are shared, as nothing changes them."""
        with self._lock:
            return dict(self._monitors), Counter(self._errors)


_EMPTY = MonitorStats()
# The details keys a result had: a check type's are the same few every time, so one
# frozenset each is shared by every monitor's stats (about 200 bytes a monitor at
# 10,000). Bounded, should a check's keys change with every result.
_key_sets: Interner[frozenset[str]] = Interner(1024)


def _key_set(present: dict[str, Any]) -> frozenset[str]:
    return _key_sets(frozenset(present))


def _latency(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _bucket_index(latency: float) -> int:
    return next((i for i, b in enumerate(LATENCY_BUCKETS) if latency <= b), len(LATENCY_BUCKETS))
