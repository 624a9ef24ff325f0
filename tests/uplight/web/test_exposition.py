"""``exposition.encode`` writes exactly the bytes client_python's negotiated encoder writes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, Metric, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.exposition import choose_encoder

from uplight.config import Config
from uplight.metrics import UplightCollector
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime
from uplight.web import exposition
from uplight.web.exposition import _Writer, encode

ACCEPTS = (
    "",
    "*/*",
    "text/plain",
    "text/plain; version=0.0.4",
    "text/plain; version=1.0.0; escaping=allow-utf-8",
    "text/plain; version=1.0.0; escaping=values",
    "application/openmetrics-text",
    "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text; version=1.0.0; escaping=allow-utf-8",
    "application/openmetrics-text; version=1.0.0; escaping=underscores",
    "application/openmetrics-text; version=1.0.0; escaping=dots",
    "application/openmetrics-text; version=2.0.0",
    # What Prometheus sends.
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
)


def uplight_families(config: Config, registry: PluginRegistry) -> list[Metric]:
    runtime = Runtime(config, registry)
    moment = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    details = {
        "phases": {"connect": 0.01, "ttfb": 0.5},
        "cert": {"not_after": "2030-02-01T00:00:00Z", "days_left": 31.0},
        "answer_count": 2,
    }
    for n, monitor in enumerate(config.monitors):
        for k, latency in enumerate((0.001, 0.3, 45.0, None)):
            status = (CheckStatus.UP, CheckStatus.DOWN, CheckStatus.DEGRADED)[(n + k) % 3]
            result = CheckResult(status, latency, "m", details)
            runtime.check_stats.observe(monitor, ResultRecord(monitor.id, moment, result))
    return list(UplightCollector(runtime, clock=lambda: moment.timestamp()).collect())


def odd_families() -> list[Metric]:
    """What uplight does not export, but a plugin or client_python might: the fallbacks."""
    counter = CounterMetricFamily("odd_events", 'help with "quotes" \\ and\nnewline', labels=["k"])
    counter.add_metric(['va"l\\ue\nx'], 3, created=1700000000.5)  # a _created sample
    gauge = GaugeMetricFamily("odd_gauge", "values", labels=["k"], unit="seconds")
    values = (0.0, -0.0, 0, 1, 1.0, True, -1.5, 1e22, 123456789.0, math.inf, -math.inf, math.nan)
    for i, value in enumerate(values):
        gauge.add_metric([f"v{i}"], value)
    stamped = GaugeMetricFamily("odd_stamped", "with a timestamp", labels=["k"])
    stamped.add_metric(["x"], 1, timestamp=1700000000)
    colon = GaugeMetricFamily("odd:colon", "a colon", value=1)
    histogram = HistogramMetricFamily("odd_seconds", "a histogram", labels=["a"])
    histogram.add_metric(["b"], buckets=[("0.5", 1), ("+Inf", 4)], sum_value=3.25)
    summary = SummaryMetricFamily("odd_summary", "a summary", count_value=2, sum_value=1.5)
    info = InfoMetricFamily("odd_build", "info", value={"version": "1.2"})
    states = StateSetMetricFamily("odd_state", "a state set", value={"a": True, "b": False})
    empty = GaugeMetricFamily("odd_empty", "no samples", labels=["k"])
    return [counter, gauge, stamped, colon, histogram, summary, info, states, empty]


def process_families() -> list[Metric]:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return list(registry.collect())


class Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("which", ["uplight", "odd", "process", "all"])
def test_the_same_bytes_as_client_python(
    accept: str,
    which: str,
    make_config: Callable[[str], Config],
    registry: PluginRegistry,
) -> None:
    monitors = "".join(
        f'[[monitors]]\nid = "m-{i}"\nname = "M{i}"\ntype = "{kind}"\n{target}interval = "1m"\n'
        for i, (kind, target) in enumerate(
            [
                ("http", 'url = "http://127.0.0.1:9/"\n'),
                ("tls", 'host = "127.0.0.1"\nport = 9\n'),
                ("dns", 'query = "example.org"\nnameservers = ["127.0.0.1"]\n'),
            ]
            * 3
        )
    )
    families = {
        "uplight": lambda: uplight_families(make_config(monitors), registry),
        "odd": odd_families,
        "process": process_families,
    }
    if which == "all":
        chosen = [f for make in families.values() for f in make()]
    else:
        chosen = families[which]()
    encoder, content_type = choose_encoder(accept)
    assert encode(chosen, accept) == (encoder(Families(chosen)), content_type)


def test_every_uplight_family_takes_the_fast_path(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    monitors = '[[monitors]]\nid = "m"\nname = "M"\ntype = "http"\nurl = "http://127.0.0.1:9/"\n'
    families = uplight_families(make_config(monitors), registry) + process_families()
    assert all(_Writer().lines(family) is not None for family in families)
    assert _Writer().lines(odd_families()[0]) is None  # a _created sample: client_python writes it


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
def test_a_family_larger_than_a_batch(accept: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "BATCH", 7)  # lines per encoded chunk
    histogram = HistogramMetricFamily("uplight_check_duration_seconds", "d", labels=["monitor"])
    gauge = GaugeMetricFamily("uplight_monitor_up", "up", labels=["monitor"])
    for i in range(50):
        histogram.add_metric([f"m{i}"], [("0.1", i), ("1.0", i + 1), ("+Inf", i + 2)], 0.5 * i)
        gauge.add_metric([f"m{i}"], i % 2)
    chunks = exposition._Writer().lines(histogram)
    assert chunks is not None and len(chunks) > 1 and all(c.count(b"\n") <= 7 for c in chunks)
    encoder, content_type = choose_encoder(accept)
    families = [histogram, gauge]
    assert encode(families, accept) == (encoder(Families(families)), content_type)
