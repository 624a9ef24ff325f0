"""The Prometheus collector: fresh metric families from in-memory state on every scrape.

``UplightCollector`` follows client_python's custom collector pattern: nothing
is instrumented directly and a scrape never touches SQLite. It reads the check
statistics (``monitoring/stats.py``), the scheduler's state, the database
writer's counters, the page cache and the notification statistics through the
narrow protocols of ``scrape.py``, so it depends on what it reads, not on the
runtime.

Besides uplight's own metrics it exports the gauges every loaded check type
declares (``CheckType.metrics``), read from each monitor's last reported
details. Label values are only monitor ids, check type names, page slugs and
fixed words (results, status words, error reasons, the words a check type's
metric declares): never URLs, hosts or free text a plugin wrote, because
``/metrics`` may be scraped by people who must not learn targets.

A scrape has two steps, so that a big one (22 MB at 10,000 monitors) never
holds the event loop: :meth:`UplightCollector.freeze` copies what the scrape
needs from the live, mutable state into a ``scrape.ScrapeFacts`` (plain values
and copies, cheap, on the loop), and :meth:`UplightCollector.families` builds the
metric families from those facts alone, so ``web/metrics.py`` runs it, and the
text encoding, in a worker thread. ``collect()`` does both at once, for a plain
``CollectorRegistry``.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from . import __version__
from .check_metrics import CheckMetric, MetricTime, samples
from .checks import CheckType
from .db.writer import WriterStats
from .metric_names import CORE_NAMES, HELP
from .models import CHECK_TO_STATUS, CheckStatus, Status
from .monitoring.stats import ERROR_REASONS, LATENCY_BUCKETS, RESULTS, MonitorStats, Reported
from .monitoring.watchdog import UNKNOWN
from .notify.stats import RESULTS as NOTIFICATION_RESULTS
from .notify.stats import ChannelFacts
from .pages.cache import CacheStats
from .scrape import MetricsSource, MonitorFacts, ScrapeFacts, freeze

log = logging.getLogger(__name__)

STATUS_WORDS: tuple[str, ...] = tuple(s.value for s in Status)
_Family = TypeVar(
    "_Family", GaugeMetricFamily, CounterMetricFamily, HistogramMetricFamily, SummaryMetricFamily
)


class UplightCollector(Collector):
    """Yields uplight's metric families, and those check types declare, from a source."""

    def __init__(
        self,
        source: MetricsSource | Callable[[], MetricsSource],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A callable follows the app's current runtime, which a config reload replaces.
        self._source = source if callable(source) else (lambda: source)
        self._clock = clock
        self._failed_reads: set[str] = set()  # metrics whose read() raised, logged once

    def collect(self) -> Iterator[Metric]:
        yield from self.families(self.freeze())

    def freeze(self) -> ScrapeFacts:
        """A consistent copy of what a scrape reads (see :func:`uplight.scrape.freeze`):
        on the event loop, copies only."""
        return freeze(self._source(), self._clock())

    def families(self, facts: ScrapeFacts) -> Iterator[Metric]:
        """The metric families of one scrape, from its facts alone (any thread)."""
        now = facts.now
        info = _family(GaugeMetricFamily, "uplight_build_info", "version")
        info.add_metric([__version__], 1)
        yield info
        yield _single(GaugeMetricFamily, "uplight_monitors", len(facts.monitors))
        uptime = max(0.0, now - facts.started_at)
        yield _single(GaugeMetricFamily, "uplight_uptime_seconds", uptime)
        yield _single(GaugeMetricFamily, "uplight_leader", 1.0 if facts.leading else 0.0)

        monitors = facts.monitors
        buckets = _cumulative if facts.per_monitor_histograms else _total_only

        def up(family: Metric, m: MonitorFacts) -> None:
            if m.stats.status is not None:
                down = m.stats.status is CheckStatus.DOWN
                family.add_metric([m.id, m.type], 0 if down else 1)  # type: ignore[attr-defined]

        def status(family: Metric, m: MonitorFacts) -> None:
            # A live window counts even before the monitor's next check notices it.
            current = _status_word(m.stats, m.window_live)
            for word in STATUS_WORDS:
                family.add_metric([m.id, word], 1 if word == current else 0)  # type: ignore[attr-defined]

        def checks(family: Metric, m: MonitorFacts) -> None:
            # Every result is exported from the start: a series that appears only on
            # its first increment breaks rate() and "absent" alerting.
            for result in RESULTS:
                family.add_metric([m.id, m.type, result], m.stats.checks[result])  # type: ignore[attr-defined]

        def duration(family: Metric, m: MonitorFacts) -> None:
            family.add_metric(  # type: ignore[attr-defined]
                [m.id, m.type], buckets=buckets(m.stats.buckets), sum_value=m.stats.latency_sum
            )

        def last_check(family: Metric, m: MonitorFacts) -> None:
            if m.stats.last_checked is not None:
                family.add_metric([m.id], m.stats.last_checked)  # type: ignore[attr-defined]

        yield _per_monitor(GaugeMetricFamily, "uplight_monitor_up", ("type",), monitors, up)
        yield _per_monitor(
            GaugeMetricFamily, "uplight_monitor_status", ("status",), monitors, status
        )
        located = _family(GaugeMetricFamily, "uplight_monitor_location_up", "monitor", "location")
        for monitor_id, location, down in facts.locations:
            located.add_metric([monitor_id, location], 0 if down else 1)
        yield located
        counts = ("type", "result")
        yield _per_monitor(CounterMetricFamily, "uplight_checks_total", counts, monitors, checks)
        name = "uplight_check_duration_seconds"
        yield _per_monitor(HistogramMetricFamily, name, ("type",), monitors, duration)
        name = "uplight_monitor_last_check_timestamp_seconds"
        yield _per_monitor(GaugeMetricFamily, name, (), monitors, last_check)
        for kind, name, attr in (
            (GaugeMetricFamily, "uplight_monitor_lag_seconds", "last_lag"),
            (CounterMetricFamily, "uplight_scheduler_skipped_ticks_total", "skipped_ticks"),
            (GaugeMetricFamily, "uplight_monitor_abandoned_checks", "abandoned"),
            (GaugeMetricFamily, "uplight_monitor_incident_open", "incident_open"),
            (CounterMetricFamily, "uplight_checks_not_counted_total", "uncounted"),
        ):
            yield _per_monitor(kind, name, (), monitors, _plain(attr))
        yield from self._declared_metrics(facts.check_types, facts.monitors, now)

        failures = _family(CounterMetricFamily, "uplight_check_errors_total", "type", "reason")
        kinds = {m.type for m in facts.monitors}
        keys = {(kind, r) for kind in kinds for r in ERROR_REASONS}
        for kind, reason in sorted(keys | set(facts.errors)):
            failures.add_metric([kind, reason], facts.errors[(kind, reason)])
        yield failures
        worst = max((m.last_lag for m in facts.monitors), default=0.0)
        yield _single(GaugeMetricFamily, "uplight_scheduler_lag_seconds", worst)
        yield from _loop_metrics(facts, kinds)
        yield from _store_metrics(facts.writer)
        yield from _page_cache_metrics(facts.page_cache)
        yield from _notification_metrics(facts.notifications, now)

    def _declared_metrics(
        self, check_types: Mapping[str, CheckType], monitors: tuple[MonitorFacts, ...], now: float
    ) -> Iterator[Metric]:
        """One family per metric a loaded check type declares, even with no sample yet."""
        seen: set[str] = set(CORE_NAMES)
        for type_name, check_type in check_types.items():
            for metric in check_type.metrics:
                if metric.name in seen:
                    continue  # refused when the plugin loaded; never two families of a name
                seen.add(metric.name)
                family = GaugeMetricFamily(
                    metric.name, metric.help, labels=["monitor", *metric.labels]
                )
                add = functools.partial(self._add_declared, type_name, metric, now)
                family.samples = _Streamed(family, monitors, add)  # type: ignore[assignment]
                yield family

    def _add_declared(
        self, type_name: str, metric: CheckMetric, now: float, family: Metric, m: MonitorFacts
    ) -> None:
        if not (metric.all_check_types or m.type == type_name):
            return
        reported = m.stats.detail(metric.key, keep_last_known=metric.keep_last_known)
        if reported is None:
            return
        for labels, number in self._samples(type_name, metric, reported, now):
            family.add_metric([m.id, *labels], number)  # type: ignore[attr-defined]

    def _samples(
        self, type_name: str, metric: CheckMetric, reported: Reported, now: float
    ) -> list[tuple[tuple[str, ...], float]]:
        try:
            value = reported.value
            if metric.read is not None:
                value = metric.read(value, MetricTime(reported.observed_at, now))
            return samples(metric, value)
        except Exception as exc:
            # A plugin's bug costs its own series, never the scrape; one line, once.
            if metric.name not in self._failed_reads:
                self._failed_reads.add(metric.name)
                log.warning(
                    "metrics: check type %r failed to read %s (%s: %s); its samples are left out",
                    type_name,
                    metric.name,
                    type(exc).__name__,
                    exc,
                )
            return []


class _Streamed:
    """A per-monitor family's samples, made when read, a monitor at a time.

    At 10,000 monitors a scrape has 330,000 samples; held all at once (a tuple and
    a dict each) they made the garbage collector's full passes, each holding the
    GIL for a few hundred milliseconds, run several times per scrape. Read as a
    stream and written at once (``web/exposition.py``), each monitor's samples are
    freed before the next monitor's are made. Iterable again, each time anew.
    """

    def __init__(
        self,
        family: Metric,
        monitors: tuple[MonitorFacts, ...],
        add: Callable[[Metric, MonitorFacts], None],
    ) -> None:
        self._family, self._monitors, self._add = family, monitors, add

    def __iter__(self) -> Iterator[Sample]:
        scratch = copy.copy(self._family)  # its add_metric makes the samples, shaped as ever
        for m in self._monitors:
            scratch.samples = []
            self._add(scratch, m)
            yield from scratch.samples


def _per_monitor(
    kind: type[_Family],
    name: str,
    labels: tuple[str, ...],
    monitors: tuple[MonitorFacts, ...],
    add: Callable[[Metric, MonitorFacts], None],
) -> _Family:
    family = _family(kind, name, "monitor", *labels)
    family.samples = _Streamed(family, monitors, add)  # type: ignore[assignment]
    return family


def _plain(attr: str) -> Callable[[Metric, MonitorFacts], None]:
    def add(family: Metric, m: MonitorFacts) -> None:
        family.add_metric([m.id], getattr(m, attr))  # type: ignore[attr-defined]

    return add


def _loop_metrics(facts: ScrapeFacts, check_types: set[str]) -> Iterator[Metric]:
    # Every monitored check type, and UNKNOWN (no check step to blame), from start-up.
    kinds = sorted(check_types | set(facts.stalls) | {UNKNOWN})
    stalls = _family(CounterMetricFamily, "uplight_event_loop_stalls_total", "type")
    seconds = _family(CounterMetricFamily, "uplight_event_loop_stall_seconds_total", "type")
    for kind in kinds:
        stalls.add_metric([kind], facts.stalls[kind])
        seconds.add_metric([kind], facts.stall_seconds[kind])
    yield from (stalls, seconds)
    yield _single(GaugeMetricFamily, "uplight_event_loop_lag_seconds", facts.loop_lag)


def _store_metrics(writer: WriterStats | None) -> Iterator[Metric]:
    if writer is None:
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


def _notification_metrics(
    notifications: tuple[Mapping[str, ChannelFacts], Counter[tuple[str, str]]] | None, now: float
) -> Iterator[Metric]:
    if notifications is None:
        return
    # In memory: the worker counts attempts and refreshes the queue after each pass.
    channels, counts = notifications
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


def _page_cache_metrics(stats: Mapping[str, CacheStats] | None) -> Iterator[Metric]:
    if stats is None:
        return
    # In memory: per page (slug label) and "_incidents" for the permalink pages.
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


_INF = floatToGoString(math.inf)


def _total_only(counts: list[int]) -> list[tuple[str, float]]:
    # [metrics] per_monitor_histograms = false: the +Inf bucket alone (with _count and
    # _sum): a valid histogram that still gives the mean, in 3 series instead of 15.
    return [(_INF, sum(counts))]


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*LATENCY_BUCKETS, math.inf), counts, strict=True):
        total += count
        out.append((floatToGoString(bound), total))
    return out
