"""Metrics a check type declares (``CheckType.metrics``): on /metrics through the same
path as the built-ins, and refused at load, naming the plugin, when the declaration is bad."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_for
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import uplight
from uplight.config import Config, parse_config
from uplight.metrics import UplightCollector
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.plugins import PluginError, PluginRegistry, load_plugins
from uplight.runtime import Runtime
from uplight.web.app import create_app
from uplight.web.context import EXTENSION

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()
STATES = ("busy", "idle")
DETAILS: dict[str, Any] = {
    "depth": 7,
    # A word the metric does not declare is dropped, whatever it is.
    "workers": {"busy": 1, "idle": 2, "evil.example.com": 3},
}


def _age(since: Any, at: uplight.MetricTime) -> float | None:
    return at.now - since if isinstance(since, int | float) else None


class QueueCheck(uplight.CheckType):
    name = "queue"
    description = "a job queue"
    metrics = (
        uplight.CheckMetric("uplight_queue_depth", "Jobs waiting.", key="depth"),
        uplight.CheckMetric(
            "uplight_queue_workers", "Workers by state.", key="workers", labels={"state": STATES}
        ),
        uplight.CheckMetric(
            "uplight_queue_oldest_seconds",
            "Age of the oldest job, as of the scrape.",
            key="since",
            read=_age,
            keep_last_known=True,
        ),
    )

    async def check(self, options: Any, context: uplight.CheckContext) -> CheckResult:
        return CheckResult.up("fine", 0.01, since=time.time() - 30, **DETAILS)


class FakePlugin:
    """A third-party plugin providing one check type."""

    def __init__(self, *check_types: type[uplight.CheckType]) -> None:
        self.check_types = check_types

    @uplight.hookimpl
    def uplight_check_types(self, register: Any) -> None:
        for cls in self.check_types:
            register(cls)


def with_plugin(*check_types: type[uplight.CheckType], name: str = "acme") -> PluginRegistry:
    return load_plugins(builtins_only=True, extra=[(name, FakePlugin(*check_types))])


def config_of(registry: PluginRegistry, tmp_path: Path) -> Config:
    text = (
        '[scheduler]\nmax_jitter = "0s"\n'
        '[[monitors]]\nid = "jobs"\nname = "Jobs"\ntype = "queue"\ninterval = "1h"\n'
        '[[monitors]]\nid = "site"\nname = "Site"\ntype = "http"\ninterval = "1h"\n'
        'url = "http://127.0.0.1:9/"\n'
    )
    path = tmp_path / "config.toml"
    path.write_text(text)
    return parse_config(text, registry.check_types, source=path, notifier_types=registry.notifiers)


def parse(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def values(samples: list[Sample], name: str) -> dict[tuple[str, ...], float]:
    return {
        tuple(v for k, v in sorted(s.labels.items())): s.value for s in samples if s.name == name
    }


async def test_a_third_party_gauge_is_on_metrics(tmp_path: Path) -> None:
    registry = with_plugin(QueueCheck)
    app = create_app(config_of(registry, tmp_path), registry)
    async with app.test_app() as test_app:
        rt: Runtime = app.extensions[EXTENSION]
        await wait_for(lambda: rt.scheduler.states["jobs"].checks.total() >= 1)
        response = await test_app.test_client().get("/metrics")
        text = await response.get_data(as_text=True)

    samples = parse(text)
    assert "# HELP uplight_queue_depth Jobs waiting.\n# TYPE uplight_queue_depth gauge" in text
    # The monitor label comes first and is uplight's; only the queue monitor has the series.
    assert values(samples, "uplight_queue_depth") == {("jobs",): 7}
    assert values(samples, "uplight_queue_workers") == {("jobs", "busy"): 1, ("jobs", "idle"): 2}
    [age] = values(samples, "uplight_queue_oldest_seconds").values()
    assert age >= 30
    assert "evil.example.com" not in text
    # The built-ins' gauges are still there, declared the same way.
    assert "# TYPE uplight_http_phase_duration_seconds gauge" in text


class Harness:
    """A runtime that is never started, a fixed clock, one scrape per call."""

    def __init__(self, registry: PluginRegistry, tmp_path: Path) -> None:
        self.now = NOW
        self.runtime = Runtime(config_of(registry, tmp_path), registry)
        self.registry = CollectorRegistry()
        self.registry.register(UplightCollector(self.runtime, clock=lambda: self.now))

    def observe(self, monitor_id: str, details: Any) -> None:
        config = self.runtime.config.monitor(monitor_id)
        assert config is not None
        moment = dt.datetime.fromtimestamp(self.now, dt.UTC)
        result = CheckResult(CheckStatus.UP, 0.01, "fine", details)
        self.runtime.check_stats.observe(config, ResultRecord(monitor_id, moment, result))

    def scrape(self) -> list[Sample]:
        return parse(generate_latest(self.registry).decode())


def test_last_result_or_last_known_value(tmp_path: Path) -> None:
    harness = Harness(with_plugin(QueueCheck), tmp_path)
    harness.observe("jobs", {"depth": 3, "since": NOW - 10})
    harness.now += 5  # read() sees the scrape's time
    assert values(harness.scrape(), "uplight_queue_oldest_seconds") == {("jobs",): 15}
    harness.observe("jobs", {"depth": None})
    samples = harness.scrape()
    assert values(samples, "uplight_queue_depth") == {}  # describes the last check only
    assert values(samples, "uplight_queue_oldest_seconds") == {("jobs",): 15}  # kept


class EveryMonitor(uplight.CheckType):
    name = "every"
    metrics = (
        uplight.CheckMetric(
            "uplight_every_depth", "Depth from any check.", key="depth", all_check_types=True
        ),
    )

    async def check(self, options: Any, context: uplight.CheckContext) -> CheckResult:
        return CheckResult.up("fine")


def test_all_check_types_reads_every_monitor(tmp_path: Path) -> None:
    harness = Harness(with_plugin(QueueCheck, EveryMonitor), tmp_path)
    harness.observe("site", {"depth": 4})  # an http monitor
    samples = harness.scrape()
    assert values(samples, "uplight_every_depth") == {("site",): 4}
    assert values(samples, "uplight_queue_depth") == {}  # only queue monitors


def _broken(value: Any, at: uplight.MetricTime) -> float:
    raise RuntimeError("boom")


class Broken(uplight.CheckType):
    name = "queue"
    metrics = (uplight.CheckMetric("uplight_queue_depth", "Jobs.", key="depth", read=_broken),)

    async def check(self, options: Any, context: uplight.CheckContext) -> CheckResult:
        return CheckResult.up("fine")


def test_a_read_that_raises_costs_its_own_series(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    harness = Harness(with_plugin(Broken), tmp_path)
    harness.observe("jobs", {"depth": 1})
    with caplog.at_level(logging.WARNING, logger="uplight.metrics"):
        for _ in range(2):
            samples = harness.scrape()
            assert values(samples, "uplight_queue_depth") == {}
            assert values(samples, "uplight_checks_total")  # the rest of the scrape is there
    [line] = [r.getMessage() for r in caplog.records]  # once, not once per scrape
    assert "'queue'" in line and "uplight_queue_depth" in line and "boom" in line


def declaring(metrics: Any) -> type[uplight.CheckType]:
    async def check(self: Any, options: Any, context: Any) -> CheckResult:
        return CheckResult.up("fine")

    return type(
        "Declaring", (uplight.CheckType,), {"name": "queue", "metrics": metrics, "check": check}
    )


def gauge(name: str = "uplight_queue_depth", **fields: Any) -> uplight.CheckMetric:
    return uplight.CheckMetric(name, fields.pop("help", "Jobs waiting."), key="depth", **fields)


@pytest.mark.parametrize(
    ("metrics", "fragment"),
    [
        ((gauge("queue_depth"),), "'queue_depth' is not a valid name"),
        ((gauge("uplight_Queue"),), "is not a valid name"),
        ((gauge("uplight_checks_total"),), "clashes with one of uplight's own metrics"),
        ((gauge("uplight_checks"),), "clashes with one of uplight's own metrics"),
        ((gauge("uplight_check_duration_seconds_bucket"),), "clashes with one of uplight's own"),
        ((gauge("uplight_queue_jobs_total"),), "must not end in _total"),
        (
            (gauge("uplight_tls_cert_days_left"),),
            "'uplight_tls_cert_days_left' is declared by two check types:"
            " 'tls' of plugin 'tls' and 'queue' of plugin 'acme'",
        ),
        ((gauge(), gauge()), "is declared twice"),
        ((gauge(help=" "),), "needs a help text"),
        ((gauge(kind="counter"),), "only 'gauge' is supported"),
        ((gauge(labels={"monitor": ("a",)}),), "label 'monitor', which uplight sets itself"),
        ((gauge(labels={"Host": ("a",)}),), "has label 'Host'"),
        ((gauge(labels={"host": ("a.example.com",)}),), "not 'a.example.com'"),
        ((gauge(labels={"state": "busy"}),), "label 'state' must list the words it may take"),
        ((gauge(labels={"state": ()}),), "label 'state' must list the words it may take"),
        (gauge(), "metrics must be a sequence of uplight.CheckMetric"),
        (("uplight_queue_depth",), "which is not an uplight.CheckMetric"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_plugin(metrics: Any, fragment: str) -> None:
    with pytest.raises(PluginError) as caught:
        with_plugin(declaring(metrics), name="acme")
    message = str(caught.value)
    assert "plugin 'acme'" in message
    assert fragment in message


def test_the_built_ins_declare_the_documented_gauges(registry: PluginRegistry) -> None:
    declared = {m.name: t for t, c in registry.check_types.items() for m in c.metrics}
    assert declared == {
        "uplight_http_phase_duration_seconds": "http",
        "uplight_tls_cert_not_after_timestamp_seconds": "tls",
        "uplight_tls_cert_days_left": "tls",
        "uplight_dns_answer_count": "dns",
        "uplight_tcp_phase_duration_seconds": "tcp",
        "uplight_ping_packet_loss_ratio": "ping",
        "uplight_ping_rtt_seconds": "ping",
        "uplight_command_exit_code": "command",
        "uplight_command_perfdata": "command",
        "uplight_feed_unresolved_entries": "feed",
    }
    docs = DOCS.read_text()
    assert all(f"`{name}` | gauge |" in docs for name in declared)
