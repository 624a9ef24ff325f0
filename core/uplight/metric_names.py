"""The names of uplight's own metrics, with their help text (docs/metrics.md explains each).

A leaf module: the plugin manager checks that a check type's declared metric does
not take one of these names without importing the collector.
"""

from __future__ import annotations

# Every metric of uplight's own, with its help text (docs/metrics.md explains each);
# check types declare theirs (CheckType.metrics).
HELP: dict[str, str] = {
    "uplight_build_info": "uplight build information; always 1.",
    "uplight_monitors": "Configured monitors.",
    "uplight_uptime_seconds": "Seconds since the uplight runtime was created.",
    "uplight_leader": "1 while this server leads (runs checks, incidents, notifications), else 0.",
    "uplight_monitor_up": "1 if the last check was up or degraded, 0 if down; absent before one.",
    "uplight_monitor_status": "The monitor's status word, one-hot.",
    "uplight_monitor_location_up": "1 if a location's last counted check was up or degraded, 0 if down.",
    "uplight_checks_total": "Checks run, by result.",
    "uplight_check_duration_seconds": "Check latency as measured by the check.",
    "uplight_monitor_last_check_timestamp_seconds": "Unix time the last check started.",
    "uplight_monitor_lag_seconds": "How late the last check started compared to its schedule.",
    "uplight_scheduler_skipped_ticks_total": "Checks skipped because earlier ones overran.",
    "uplight_monitor_incident_open": "1 while the monitor's thresholds hold an incident open.",
    "uplight_monitor_abandoned_checks": "Checks still running after ignoring their cancellation.",
    "uplight_checks_not_counted_total": "Runs not counted: event loop stalls others caused hid them.",
    "uplight_check_errors_total": "Checks failed by the plugin: raised, timed out or bad result.",
    "uplight_scheduler_lag_seconds": "Largest start delay among the monitors' last checks.",
    "uplight_event_loop_stalls_total": "Event loop stalls, by the check type that held the loop.",
    "uplight_event_loop_stall_seconds_total": "Seconds the event loop was held by stalls.",
    "uplight_event_loop_lag_seconds": "How late the event loop watchdog's latest tick ran.",
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


# Names a check type's metric may not take: every family and sample name of ours
# (CounterMetricFamily drops "_total" from the family name; histograms add suffixes).
CORE_NAMES = frozenset(
    name
    for core in HELP
    for family in {core, core.removesuffix("_total")}
    for name in (family, *(family + s for s in ("_total", "_created", "_bucket", "_count", "_sum")))
)
