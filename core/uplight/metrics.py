"""Prometheus metrics: check statistics kept in memory and the collector that exposes them.

``CheckStats`` is a scheduler listener: it sees every result once and keeps
cumulative counters and histogram buckets per monitor, plus the last facts a
check reported (HTTP phases, certificate expiry, DNS answer count).
``UplightCollector`` turns that and the runtime's in-memory state into fresh
metric families on every scrape (client_python's custom collector pattern), so
nothing is instrumented directly and a scrape never touches SQLite.

Label values are only monitor ids, check type names, page slugs and fixed words
(results, status words, error reasons, phase names): never URLs, hosts or anything a plugin
wrote, because ``/metrics`` may be scraped by people who must not learn targets.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from . import __version__
from .config import MonitorConfig
from .models import CHECK_TO_STATUS, CheckStatus, ResultRecord, Status
from .notify.stats import RESULTS as NOTIFICATION_RESULTS

if TYPE_CHECKING:
    from .runtime import Runtime

# Check latencies span a few ms (loopback) to the 30 s a slow target may be given.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
RESULTS: tuple[str, ...] = tuple(s.value for s in CheckStatus)
STATUS_WORDS: tuple[str, ...] = tuple(s.value for s in Status)
ERROR_REASONS: tuple[str, ...] = ("exception", "timeout", "invalid_result")
# Phase names become label values, so only these known words are exported: a
# plugin's free-form keys could carry a host name or explode cardinality.
PHASES: tuple[str, ...] = ("dns", "connect", "tls", "ttfb", "transfer")
SECONDS_PER_DAY = 86400.0
_Family = TypeVar(
    "_Family", GaugeMetricFamily, CounterMetricFamily, HistogramMetricFamily, SummaryMetricFamily
)

# Every metric uplight exports, with its help text (docs/metrics.md explains each).
HELP: dict[str, str] = {
    "uplight_build_info": "uplight build information; always 1.",
    "uplight_monitors": "Configured monitors.",
    "uplight_uptime_seconds": "Seconds since the uplight runtime was created.",
    "uplight_monitor_up": "1 if the last check was up or degraded, 0 if down; absent before one.",
    "uplight_monitor_status": "The monitor's status word, one-hot.",
    "uplight_checks_total": "Checks run, by result.",
    "uplight_check_duration_seconds": "Check latency as measured by the check.",
    "uplight_monitor_last_check_timestamp_seconds": "Unix time the last check started.",
    "uplight_monitor_lag_seconds": "How late the last check started compared to its schedule.",
    "uplight_scheduler_skipped_ticks_total": "Checks skipped because the previous one overran.",
    "uplight_http_phase_duration_seconds": "Duration of each phase of the last HTTP check.",
    "uplight_tls_cert_not_after_timestamp_seconds": "Unix time the latest certificate expires.",
    "uplight_tls_cert_days_left": "Days until the latest certificate expires, as of the scrape.",
    "uplight_dns_answer_count": "Records in the last DNS answer.",
    "uplight_check_errors_total": "Checks failed by the plugin: raised, timed out or bad result.",
    "uplight_scheduler_lag_seconds": "Largest start delay among the monitors' last checks.",
    "uplight_store_pending_writes": "Check results buffered plus write jobs queued, uncommitted.",
    "uplight_store_flushed_results_total": "Check results committed to the database.",
    "uplight_store_failed_flushes_total": "Flushes of buffered check results that failed.",
    "uplight_store_last_flush_timestamp_seconds": "Unix time of the last successful flush.",
    "uplight_notifications_total": "Notification delivery attempts, by channel and result.",
    "uplight_notification_queue_depth": "Notifications waiting for delivery or a retry.",
    "uplight_notification_oldest_pending_seconds": "Age of the oldest notification waiting.",
    "uplight_page_cache_hits_total": "Public page requests served from a fresh cached snapshot.",
    "uplight_page_cache_misses_total": "Public page requests that waited for a snapshot compute.",
    "uplight_page_cache_stale_served_total": "Last-known-good snapshots served after a failure.",
    "uplight_page_cache_compute_errors_total": "Snapshot computes that failed.",
    "uplight_page_cache_compute_seconds": "Time spent computing snapshots (count: computes).",
}


@dataclass(frozen=True, slots=True)
class CertFacts:
    """A certificate's expiry as last reported; days left are recomputed per scrape."""

    not_after: float | None  # unix seconds
    days_left: float | None  # as reported at observed_at, used when not_after is missing
    observed_at: float  # unix seconds

    def days_left_at(self, now: float) -> float | None:
        if self.not_after is not None:
            return (self.not_after - now) / SECONDS_PER_DAY
        if self.days_left is not None:
            return self.days_left - (now - self.observed_at) / SECONDS_PER_DAY
        return None


@dataclass(slots=True)
class MonitorStats:
    """Cumulative counts and last facts for one monitor."""

    checks: Counter[str] = field(default_factory=Counter)  # by result word
    # Non-cumulative counts per bucket; the extra last slot is "above the largest bound".
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    status: CheckStatus | None = None
    in_maintenance: bool = False
    last_checked: float | None = None  # unix seconds of the last check's start
    phases: dict[str, float] = field(default_factory=dict)  # of the last check only
    cert: CertFacts | None = None  # of the latest result that carried a certificate
    answer_count: int | None = None  # of the last check only

    def copy(self) -> MonitorStats:
        return replace(
            self, checks=Counter(self.checks), buckets=list(self.buckets), phases=dict(self.phases)
        )


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
        latency = _number(record.result.latency)
        phases = _phases(details.get("phases"))
        cert = _cert(details.get("cert"), self._clock())
        answers = _count(details.get("answer_count"))
        checked_at = (
            record.checked_at.timestamp() if isinstance(record.checked_at, dt.datetime) else None
        )
        with self._lock:
            stats = self._monitors.setdefault(monitor.id, MonitorStats())
            stats.checks[status.value] += 1
            if latency is not None and latency >= 0:
                stats.buckets[_bucket_index(latency)] += 1
                stats.latency_sum += latency
            stats.status = status
            stats.in_maintenance = bool(record.in_maintenance)
            stats.last_checked = checked_at
            stats.phases = phases
            # A failed handshake reports no certificate: keep the last one known so
            # an expiry alert does not reset every time a check fails.
            if cert is not None:
                stats.cert = cert
            stats.answer_count = answers
            if record.error_reason:
                reason = record.error_reason if record.error_reason in ERROR_REASONS else "other"
                self._errors[(monitor.type, reason)] += 1

    def snapshot(self) -> tuple[dict[str, MonitorStats], Counter[tuple[str, str]]]:
        """Copies, so a scrape reads one consistent moment."""
        with self._lock:
            return {k: v.copy() for k, v in self._monitors.items()}, Counter(self._errors)


class UplightCollector(Collector):
    """Yields uplight's metric families from the runtime's in-memory state."""

    def __init__(
        self,
        runtime: Runtime | Callable[[], Runtime],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A callable follows the app's current runtime, which a config reload replaces.
        self._runtime = runtime if callable(runtime) else (lambda: runtime)
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        rt = self._runtime()
        now = self._clock()
        states = rt.scheduler.states
        stats, errors = rt.check_stats.snapshot()

        info = _family(GaugeMetricFamily, "uplight_build_info", "version")
        info.add_metric([__version__], 1)
        yield info
        yield _single(GaugeMetricFamily, "uplight_monitors", len(states))
        uptime = max(0.0, now - rt.started_at)
        yield _single(GaugeMetricFamily, "uplight_uptime_seconds", uptime)

        up = _family(GaugeMetricFamily, "uplight_monitor_up", "monitor", "type")
        status = _family(GaugeMetricFamily, "uplight_monitor_status", "monitor", "status")
        checks = _family(CounterMetricFamily, "uplight_checks_total", "monitor", "type", "result")
        duration = _family(
            HistogramMetricFamily, "uplight_check_duration_seconds", "monitor", "type"
        )
        last_check = _family(
            GaugeMetricFamily, "uplight_monitor_last_check_timestamp_seconds", "monitor"
        )
        lag = _family(GaugeMetricFamily, "uplight_monitor_lag_seconds", "monitor")
        skipped = _family(CounterMetricFamily, "uplight_scheduler_skipped_ticks_total", "monitor")
        phases = _family(
            GaugeMetricFamily, "uplight_http_phase_duration_seconds", "monitor", "phase"
        )
        not_after = _family(
            GaugeMetricFamily, "uplight_tls_cert_not_after_timestamp_seconds", "monitor"
        )
        days_left = _family(GaugeMetricFamily, "uplight_tls_cert_days_left", "monitor")
        answers = _family(GaugeMetricFamily, "uplight_dns_answer_count", "monitor")

        for monitor_id, state in states.items():
            kind = state.monitor.type
            s = stats.get(monitor_id) or MonitorStats()
            if s.status is not None:
                up.add_metric([monitor_id, kind], 0 if s.status is CheckStatus.DOWN else 1)
            # A live window counts even before the monitor's next check notices it.
            current = _status_word(s, rt.maintenance.is_active(monitor_id))
            for word in STATUS_WORDS:
                status.add_metric([monitor_id, word], 1 if word == current else 0)
            # Every result is exported from the start: a series that appears only on
            # its first increment breaks rate() and "absent" alerting.
            for result in RESULTS:
                checks.add_metric([monitor_id, kind, result], s.checks[result])
            duration.add_metric(
                [monitor_id, kind], buckets=_cumulative(s.buckets), sum_value=s.latency_sum
            )
            if s.last_checked is not None:
                last_check.add_metric([monitor_id], s.last_checked)
            lag.add_metric([monitor_id], state.last_lag)
            skipped.add_metric([monitor_id], state.skipped_ticks)
            if kind == "http":  # the metric's name promises HTTP phases; tls has its own
                for phase, seconds in s.phases.items():
                    phases.add_metric([monitor_id, phase], seconds)
            if s.cert is not None:
                if s.cert.not_after is not None:
                    not_after.add_metric([monitor_id], s.cert.not_after)
                left = s.cert.days_left_at(now)
                if left is not None:
                    days_left.add_metric([monitor_id], left)
            if s.answer_count is not None:
                answers.add_metric([monitor_id], s.answer_count)
        yield from (up, status, checks, duration, last_check, lag, skipped)
        yield from (phases, not_after, days_left, answers)

        failures = _family(CounterMetricFamily, "uplight_check_errors_total", "type", "reason")
        keys = {(m.monitor.type, r) for m in states.values() for r in ERROR_REASONS}
        for kind, reason in sorted(keys | set(errors)):
            failures.add_metric([kind, reason], errors[(kind, reason)])
        yield failures
        worst = max((s.last_lag for s in states.values()), default=0.0)
        yield _single(GaugeMetricFamily, "uplight_scheduler_lag_seconds", worst)
        yield from _store_metrics(rt)
        yield from _page_cache_metrics(rt)
        yield from _notification_metrics(rt, now)


def _store_metrics(rt: Runtime) -> Iterator[Metric]:
    try:
        writer = rt.store.writer.stats  # plain counters: no SQLite, no await
    except RuntimeError:
        return  # store not open (starting or stopped): omit rather than report zeros
    pending = writer.pending_results + writer.queued_writes
    yield _single(GaugeMetricFamily, "uplight_store_pending_writes", pending)
    flushed = writer.flushed_results
    yield _single(CounterMetricFamily, "uplight_store_flushed_results_total", flushed)
    failed = writer.failed_flushes
    yield _single(CounterMetricFamily, "uplight_store_failed_flushes_total", failed)
    if writer.last_flush is not None:
        last = writer.last_flush
        yield _single(GaugeMetricFamily, "uplight_store_last_flush_timestamp_seconds", last)


def _notification_metrics(rt: Runtime, now: float) -> Iterator[Metric]:
    notifications = getattr(rt, "notifications", None)
    if notifications is None:
        return
    # In memory: the worker counts attempts and refreshes the queue after each pass.
    channels, counts = notifications.stats.snapshot()
    names = sorted(set(channels) | {channel for channel, _ in counts})
    total = _family(CounterMetricFamily, "uplight_notifications_total", "channel", "result")
    depth = _family(GaugeMetricFamily, "uplight_notification_queue_depth", "channel")
    oldest = _family(GaugeMetricFamily, "uplight_notification_oldest_pending_seconds", "channel")
    for channel in names:
        for result in NOTIFICATION_RESULTS:
            total.add_metric([channel, result], counts[(channel, result)])
        facts = channels.get(channel)
        depth.add_metric([channel], facts.pending if facts else 0)
        since = facts.oldest_pending if facts else None
        oldest.add_metric([channel], max(0.0, now - since.timestamp()) if since else 0.0)
    yield from (total, depth, oldest)


def _page_cache_metrics(rt: Runtime) -> Iterator[Metric]:
    cache = getattr(rt, "page_cache", None)
    if cache is None:
        return
    # In memory: per page (slug label) and "_incidents" for the permalink pages.
    stats = cache.stats()
    counters = {
        "uplight_page_cache_hits_total": "hits",
        "uplight_page_cache_misses_total": "misses",
        "uplight_page_cache_stale_served_total": "stale_served",
        "uplight_page_cache_compute_errors_total": "compute_errors",
    }
    for name, attr in counters.items():
        family = _family(CounterMetricFamily, name, "page")
        for page, s in sorted(stats.items()):
            family.add_metric([page], getattr(s, attr))
        yield family
    seconds = _family(SummaryMetricFamily, "uplight_page_cache_compute_seconds", "page")
    for page, s in sorted(stats.items()):
        seconds.add_metric([page], count_value=s.computes, sum_value=s.compute_seconds_total)
    yield seconds


def _family(kind: type[_Family], name: str, *labels: str) -> _Family:
    # CounterMetricFamily strips "_total" from the family name; its samples keep it.
    return kind(name, HELP[name], labels=list(labels))


def _single(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str, value: float
) -> Metric:
    return kind(name, HELP[name], value=value)


def _status_word(stats: MonitorStats, window_live: bool) -> str:
    if window_live or (stats.status is not None and stats.in_maintenance):
        return Status.MAINTENANCE.value  # maintenance dominates every other state
    if stats.status is None:
        return Status.NO_DATA.value
    return CHECK_TO_STATUS[stats.status].value


def _bucket_index(latency: float) -> int:
    return next((i for i, b in enumerate(LATENCY_BUCKETS) if latency <= b), len(LATENCY_BUCKETS))


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*LATENCY_BUCKETS, math.inf), counts, strict=True):
        total += count
        out.append((floatToGoString(bound), total))
    return out


# -- reading plugin details: untrusted, so every wrong type is ignored ----------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def _phases(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, float] = {}
    for phase in PHASES:
        seconds = _number(value.get(phase))
        if seconds is not None and seconds >= 0:
            out[phase] = seconds
    return out


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)  # uplight's wire times are UTC
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _cert(value: Any, now: float) -> CertFacts | None:
    if not isinstance(value, Mapping):
        return None
    not_after = _timestamp(value.get("not_after"))
    days_left = _number(value.get("days_left"))
    if not_after is None and days_left is None:
        return None
    return CertFacts(not_after, days_left, now)
