"""Check statistics: the scheduler listener /metrics reads (counts, latency buckets,
and what checks last reported in their details)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from uplight.config import MonitorConfig
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.stats import LATENCY_BUCKETS, MAX_KEPT_KEYS, CheckStats, Reported

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def monitor(monitor_id: str = "a", kind: str = "http") -> MonitorConfig:
    return MonitorConfig.model_construct(id=monitor_id, name=monitor_id, type=kind)


def record(
    details: Any = None,
    status: CheckStatus = CheckStatus.UP,
    latency: float | None = 0.1,
    error_reason: str | None = None,
) -> ResultRecord:
    result = CheckResult(status, latency, "message", {} if details is None else details)
    return ResultRecord("a", NOW, result, error_reason)


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


def test_counts_buckets_and_errors() -> None:
    stats = CheckStats()
    for latency in (0.003, 0.2, None, -1.0, float("nan")):
        stats.observe(monitor(), record(latency=latency))
    stats.observe(monitor(), record(status=CheckStatus.DOWN, error_reason="timeout"))
    stats.observe(monitor(), record(status=CheckStatus.DOWN, error_reason="made-up"))
    monitors, errors = stats.snapshot()
    a = monitors["a"]
    assert a.checks == {"up": 5, "down": 2}
    assert len(a.buckets) == len(LATENCY_BUCKETS) + 1
    assert sum(a.buckets) == 4  # only latencies that are finite and not negative
    assert a.status is CheckStatus.DOWN and a.last_checked == NOW.timestamp()
    assert errors == {("http", "timeout"): 1, ("http", "other"): 1}


def test_the_latest_value_of_each_details_key_is_kept() -> None:
    clock = Clock()
    stats = CheckStats(clock=clock)
    stats.observe(monitor(), record({"cert": {"days_left": 9}, "answer_count": 3}))
    clock.now += 60
    stats.observe(monitor(), record({"answer_count": None, "phases": {"connect": 0.1}}))
    a = stats.snapshot()[0]["a"]
    # The last result only: a null or missing key is no value.
    assert a.detail("answer_count") is None and a.detail("cert") is None
    assert a.detail("phases") == Reported({"connect": 0.1}, clock.now)
    # The latest result that had it, with when it was seen.
    assert a.detail("cert", keep_last_known=True) == Reported({"days_left": 9}, clock.now - 60)
    assert a.detail("answer_count", keep_last_known=True) == Reported(3, clock.now - 60)


def test_details_that_are_not_a_dict_are_no_details() -> None:
    stats = CheckStats()
    stats.observe(monitor(), record({"cert": {"days_left": 9}}))
    stats.observe(monitor(), record(["not", "a", "dict"]))
    a = stats.snapshot()[0]["a"]
    assert a.checks["up"] == 2
    assert a.current == frozenset()
    assert a.detail("cert", keep_last_known=True) is not None


def test_keys_that_change_every_check_do_not_pile_up() -> None:
    stats = CheckStats()
    for i in range(MAX_KEPT_KEYS + 10):
        stats.observe(monitor(), record({f"key{i}": i, "steady": 1}))
    a = stats.snapshot()[0]["a"]
    assert len(a.reported) <= MAX_KEPT_KEYS
    assert a.detail("steady") is not None


def test_a_snapshot_is_a_copy() -> None:
    stats = CheckStats()
    stats.observe(monitor(), record({"x": 1}))
    before = stats.snapshot()[0]["a"]
    stats.observe(monitor(), record({"y": 2}))
    assert before.checks["up"] == 1 and "y" not in before.reported


def test_monitors_whose_results_have_the_same_keys_share_one_key_set() -> None:
    stats = CheckStats()
    for monitor_id in ("a", "b"):
        stats.observe(monitor(monitor_id), record({"status_code": 200, "phases": {"tls": 0.1}}))
    monitors, _ = stats.snapshot()
    assert monitors["a"].current == {"status_code", "phases"}
    assert monitors["a"].current is monitors["b"].current
