"""/metrics against real checks of a real local server, the collector with synthetic
results, access control, content negotiation, and the contrib rules and dashboard."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import wait_for
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from servers import HttpServer, Route, refused_port

from uplight import __version__
from uplight.config import Config, ConfigError
from uplight.metrics import HELP, STATUS_WORDS, UplightCollector
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.stats import LATENCY_BUCKETS, CheckStats
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime
from uplight.web.app import create_app
from uplight.web.context import EXTENSION

REPO = Path(__file__).parents[2]
ALERTS = REPO / "contrib" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "contrib" / "grafana" / "uplight.json"
DOCS = REPO / "docs" / "metrics.md"
METRIC_NAME = re.compile(r"\buplight_[a-zA-Z0-9_]+")
# Every monitor's first check runs at start-up; the next one is a minute away, so
# counts only change when a test calls run_once.
SCHEDULER = '[scheduler]\nmax_jitter = "0s"\n'
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()

MakeConfig = Callable[[str], Config]


def monitor(monitor_id: str, url: str) -> str:
    return (
        f'\n[[monitors]]\nid = "{monitor_id}"\nname = "{monitor_id}"\ntype = "http"\n'
        f'interval = "1m"\ntimeout = "5s"\nurl = "{url}"\n'
    )


def parse(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def pick(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [
        s
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = pick(samples, name, **labels)
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0].value


def record(
    monitor_id: str,
    status: CheckStatus = CheckStatus.UP,
    latency: float | None = 0.1,
    details: Any = None,
    *,
    error_reason: str | None = None,
    in_maintenance: bool = False,
) -> ResultRecord:
    result = CheckResult(status, latency, "message", details if details is not None else {})
    return ResultRecord(
        monitor_id, dt.datetime.fromtimestamp(NOW, dt.UTC), result, error_reason, in_maintenance
    )


# -- the real thing: checks against a local server ------------------------------


async def test_scrape_reflects_the_checks_that_ran(
    make_config: MakeConfig, registry: PluginRegistry
) -> None:
    with HttpServer({"/ok": Route(200, "fine")}) as server:
        gone = refused_port()
        config = make_config(
            SCHEDULER
            + monitor("web", server.url("/ok"))
            + monitor("gone", f"http://127.0.0.1:{gone}/")
        )
        app = create_app(config, registry)
        async with app.test_app() as test_app:
            rt: Runtime = app.extensions[EXTENSION]
            states = rt.scheduler.states
            await wait_for(lambda: all(s.checks.total() >= 1 for s in states.values()))
            await rt.scheduler.run_once("web")  # a second check, so counts are not all 1
            response = await test_app.test_client().get("/metrics")
            text = await response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = parse(text)
    assert states["web"].checks["up"] == 2
    for monitor_id in ("web", "gone"):
        for result in ("up", "degraded", "down"):
            expected = states[monitor_id].checks[result]
            got = value(samples, "uplight_checks_total", monitor=monitor_id, result=result)
            assert got == expected, (monitor_id, result)
        one_hot = pick(samples, "uplight_monitor_status", monitor=monitor_id)
        assert {s.labels["status"] for s in one_hot} == set(STATUS_WORDS)
        assert sum(s.value for s in one_hot) == 1
    assert value(samples, "uplight_monitor_up", monitor="web", type="http") == 1
    assert value(samples, "uplight_monitor_up", monitor="gone", type="http") == 0
    assert value(samples, "uplight_monitor_status", monitor="web", status="operational") == 1
    assert value(samples, "uplight_monitor_status", monitor="gone", status="major_outage") == 1

    # Every "up" check measured a latency; a refused connection measures none.
    assert value(samples, "uplight_check_duration_seconds_count", monitor="web") == 2
    assert value(samples, "uplight_check_duration_seconds_bucket", monitor="web", le="+Inf") == 2
    assert value(samples, "uplight_check_duration_seconds_sum", monitor="web") > 0
    assert value(samples, "uplight_check_duration_seconds_count", monitor="gone") == 0

    phases = {s.labels["phase"]: s.value for s in pick(samples, "uplight_http_phase_duration_seconds", monitor="web")}  # fmt: skip
    assert {"connect", "ttfb"} <= set(phases)
    assert all(seconds >= 0 for seconds in phases.values())

    assert value(samples, "uplight_build_info", version=__version__) == 1
    assert value(samples, "uplight_monitors") == 2
    assert value(samples, "uplight_store_pending_writes") >= 0
    assert value(samples, "uplight_scheduler_lag_seconds") >= 0
    assert all(s.value == 0 for s in pick(samples, "uplight_check_errors_total"))
    assert pick(samples, "process_cpu_seconds_total") and pick(samples, "python_info")
    # Targets never leak: not the host, not the ports, not the scheme.
    for secret in ("127.0.0.1", f":{server.port}", f":{gone}", "http://", "/ok"):
        assert secret not in text


async def test_openmetrics_is_negotiated(make_config: MakeConfig, registry: PluginRegistry) -> None:
    app = create_app(make_config(""), registry)
    accept = "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/metrics", headers={"Accept": accept})
        status, content_type = response.status_code, response.content_type
        text = await response.get_data(as_text=True)
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    names = {family.name for family in openmetrics_families(text)}
    assert {"uplight_build_info", "uplight_store_pending_writes"} <= names


# -- access control ----------------------------------------------------------------


async def test_bearer_token_is_required(
    make_config: MakeConfig,
    registry: PluginRegistry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "s3cret-T0ken"
    (tmp_path / "metrics-token").write_text(token + "\n")
    # A relative path is relative to the config file, like storage.path.
    app = create_app(make_config('[metrics]\nbearer_token_file = "metrics-token"\n'), registry)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {token}x"},
            {"Authorization": f"Basic {token}"},
            {"Authorization": token},
        ):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
            body = await response.get_json()
            assert body["error"]["code"] == "UNAUTHORIZED"
            assert token not in json.dumps(body)
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        text = await response.get_data(as_text=True)
    assert "uplight_build_info" in text and token not in text
    assert token not in caplog.text


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_unusable_token_file_is_a_config_error(
    make_config: MakeConfig, tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / "token").write_text(content)
    with pytest.raises(ConfigError) as info:
        make_config('[metrics]\nbearer_token_file = "token"\n')
    assert "metrics.bearer_token_file" in str(info.value)


def test_token_file_gone_by_start_up_stops_it(
    make_config: MakeConfig, registry: PluginRegistry, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    config = make_config('[metrics]\nbearer_token_file = "token"\n')
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError) as info:
        create_app(config, registry)
    assert "metrics.bearer_token_file" in str(info.value)


async def test_disabled_metrics_answer_404(
    make_config: MakeConfig, registry: PluginRegistry
) -> None:
    app = create_app(make_config("[metrics]\nenabled = false\n"), registry)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/metrics")
        assert response.status_code == 404
        assert (await response.get_json())["error"]["code"] == "NOT_FOUND"


# -- the collector with synthetic results ---------------------------------------


class Harness:
    """A runtime that is never started, a fixed clock, and one scrape per call."""

    def __init__(self, config: Config, registry: PluginRegistry) -> None:
        self.now = NOW
        self.runtime = Runtime(config, registry)
        self.runtime.check_stats = CheckStats(clock=lambda: self.now)
        self.registry = CollectorRegistry()
        self.registry.register(UplightCollector(self.runtime, clock=lambda: self.now))

    def observe(self, record: ResultRecord) -> None:
        config = self.runtime.config.monitor(record.monitor_id)
        assert config is not None
        self.runtime.check_stats.observe(config, record)

    def scrape(self) -> list[Sample]:
        return parse(generate_latest(self.registry).decode())


@pytest.fixture
def harness(make_config: MakeConfig, registry: PluginRegistry) -> Harness:
    text = "".join(monitor(m, "http://127.0.0.1:9/") for m in ("a", "b", "c"))
    return Harness(make_config(text), registry)


def test_before_the_first_check(harness: Harness) -> None:
    samples = harness.scrape()
    assert not pick(samples, "uplight_monitor_up")
    assert value(samples, "uplight_monitor_status", monitor="a", status="no_data") == 1
    assert value(samples, "uplight_checks_total", monitor="a", result="up") == 0
    assert value(samples, "uplight_check_duration_seconds_count", monitor="a") == 0
    # The store is not open: its metrics are left out rather than faked.
    assert not pick(samples, "uplight_store_pending_writes")


def test_a_live_maintenance_window_counts_before_the_next_check(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.observe(record("b", CheckStatus.DOWN))
    monkeypatch.setattr(harness.runtime.maintenance, "is_active", lambda m: m in ("a", "b"))
    samples = harness.scrape()
    for monitor_id in ("a", "b"):
        assert (
            value(samples, "uplight_monitor_status", monitor=monitor_id, status="maintenance") == 1
        )
    assert value(samples, "uplight_monitor_status", monitor="c", status="no_data") == 1
    assert value(samples, "uplight_monitor_up", monitor="b") == 0  # the check result, unchanged


def test_status_words_and_histogram(harness: Harness) -> None:
    for latency in (0.003, 0.2, 45.0, None):
        harness.observe(record("a", latency=latency))
    harness.observe(record("b", CheckStatus.DEGRADED))
    harness.observe(record("c", CheckStatus.DOWN, in_maintenance=True))
    samples = harness.scrape()
    assert value(samples, "uplight_monitor_up", monitor="b") == 1
    assert value(samples, "uplight_monitor_status", monitor="b", status="degraded") == 1
    assert value(samples, "uplight_monitor_up", monitor="c") == 0
    assert value(samples, "uplight_monitor_status", monitor="c", status="maintenance") == 1
    buckets = {
        s.labels["le"]: s.value
        for s in pick(samples, "uplight_check_duration_seconds_bucket", monitor="a")
    }
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert (buckets["0.005"], buckets["0.25"], buckets["30.0"], buckets["+Inf"]) == (1, 2, 2, 3)
    assert value(samples, "uplight_check_duration_seconds_count", monitor="a") == 3
    assert value(samples, "uplight_check_duration_seconds_sum", monitor="a") == pytest.approx(
        45.203
    )
    assert value(samples, "uplight_checks_total", monitor="a", result="up") == 4


def test_certificate_expiry_stays_fresh(harness: Harness) -> None:
    not_after = dt.datetime.fromtimestamp(NOW + 10 * 86400, dt.UTC)
    cert = {"not_after": not_after.isoformat().replace("+00:00", "Z"), "days_left": 99.0}
    harness.observe(record("a", details={"cert": cert}))
    harness.observe(record("b", details={"cert": {"days_left": 20.5}}))
    samples = harness.scrape()
    assert value(samples, "uplight_tls_cert_not_after_timestamp_seconds", monitor="a") == (
        NOW + 10 * 86400
    )
    # Computed from not_after at scrape time, not the days_left the check reported.
    assert value(samples, "uplight_tls_cert_days_left", monitor="a") == pytest.approx(10.0)
    assert value(samples, "uplight_tls_cert_days_left", monitor="b") == pytest.approx(20.5)
    assert not pick(samples, "uplight_tls_cert_not_after_timestamp_seconds", monitor="b")

    harness.now += 86400
    harness.observe(record("a", CheckStatus.DOWN, None, {}))  # a failed handshake: no cert
    samples = harness.scrape()
    assert value(samples, "uplight_tls_cert_days_left", monitor="a") == pytest.approx(9.0)
    assert value(samples, "uplight_tls_cert_days_left", monitor="b") == pytest.approx(19.5)


def test_dns_answer_count_is_the_last_one(harness: Harness) -> None:
    harness.observe(record("a", details={"answer_count": 3}))
    assert value(harness.scrape(), "uplight_dns_answer_count", monitor="a") == 3
    harness.observe(record("a", details={"answer_count": "3"}))
    assert not pick(harness.scrape(), "uplight_dns_answer_count")


GARBAGE_DETAILS: list[Any] = [
    ["not", "a", "dict"],
    "details",
    {"phases": "fast", "cert": ["x"], "answer_count": -1},
    {"phases": [0.1], "cert": "2030-01-01", "answer_count": 2.5},
    {"phases": {"connect": "0.1", "ttfb": True, "tls": -1.0, "evil.example.com": 0.1}},
    {"phases": {"dns": float("nan"), "connect": float("inf")}, "answer_count": True},
    {"cert": {"not_after": 1893456000, "days_left": "soon"}, "answer_count": 10**400},
    {"cert": {"not_after": "next tuesday", "days_left": None}},
    {"cert": {"not_after": "9" * 10_000, "days_left": float("nan")}},
    {"cert": {"not_after": None, "days_left": False}, "answer_count": None},
]


@pytest.mark.parametrize("details", GARBAGE_DETAILS)
def test_garbage_details_are_ignored(harness: Harness, details: Any) -> None:
    harness.observe(record("a", details=details))
    samples = harness.scrape()
    assert value(samples, "uplight_checks_total", monitor="a", result="up") == 1
    for name in (
        "uplight_http_phase_duration_seconds",
        "uplight_tls_cert_not_after_timestamp_seconds",
        "uplight_tls_cert_days_left",
        "uplight_dns_answer_count",
    ):
        assert not pick(samples, name), name
    text = generate_latest(harness.registry).decode()
    assert "evil.example.com" not in text


def test_plugin_errors_are_counted_by_type_and_reason(harness: Harness) -> None:
    for reason in ("timeout", "timeout", "exception", "invalid_result", "made-up"):
        harness.observe(record("a", CheckStatus.DOWN, None, error_reason=reason))
    harness.observe(record("b", CheckStatus.DOWN, None))  # a down target is not a plugin fault
    samples = harness.scrape()
    errors = {s.labels["reason"]: s.value for s in pick(samples, "uplight_check_errors_total")}
    assert errors == {"timeout": 2, "exception": 1, "invalid_result": 1, "other": 1}
    assert {s.labels["type"] for s in pick(samples, "uplight_check_errors_total")} == {"http"}


def test_per_monitor_histograms_off_keeps_the_mean(
    make_config: MakeConfig, registry: PluginRegistry
) -> None:
    """``[metrics] per_monitor_histograms = false``: +Inf, _count and _sum per monitor."""
    text = "[metrics]\nper_monitor_histograms = false\n" + monitor("a", "http://127.0.0.1:9/")
    harness = Harness(make_config(text), registry)
    for latency in (0.003, 0.2, 45.0):
        harness.observe(record("a", latency=latency))
    samples = harness.scrape()
    (bucket,) = pick(samples, "uplight_check_duration_seconds_bucket", monitor="a")
    assert (bucket.labels["le"], bucket.value) == ("+Inf", 3)
    assert value(samples, "uplight_check_duration_seconds_count", monitor="a") == 3
    assert value(samples, "uplight_check_duration_seconds_sum", monitor="a") == 45.203
    full = Harness(make_config(monitor("a", "http://127.0.0.1:9/")), registry).scrape()
    assert len(pick(full, "uplight_check_duration_seconds_bucket", monitor="a")) == 13  # default


def test_a_frozen_scrape_does_not_follow_the_live_state(harness: Harness) -> None:
    """The families are built from the copy taken on the loop, in another thread."""
    harness.observe(record("a"))
    collector = UplightCollector(harness.runtime, clock=lambda: harness.now)
    facts = collector.freeze()
    for _ in range(3):  # checks go on while the thread builds the text
        harness.observe(record("a", CheckStatus.DOWN))
    samples = [s for family in collector.families(facts) for s in family.samples]
    assert value(samples, "uplight_checks_total", monitor="a", result="up") == 1
    assert value(samples, "uplight_checks_total", monitor="a", result="down") == 0
    assert value(harness.scrape(), "uplight_checks_total", monitor="a", result="down") == 3


async def test_a_scrape_is_built_off_the_event_loop(
    make_config: MakeConfig, registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the text is built, /healthz answers; concurrent scrapes share one build."""
    built_on: list[str] = []
    release = threading.Event()
    families = UplightCollector.families

    def held(self: UplightCollector, facts: Any) -> Any:
        built_on.append(threading.current_thread().name)
        assert release.wait(10)
        return families(self, facts)

    monkeypatch.setattr(UplightCollector, "families", held)
    app = create_app(make_config(monitor("a", "http://127.0.0.1:9/")), registry)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        scrapes = [asyncio.create_task(client.get("/metrics")) for _ in range(3)]
        await wait_for(lambda: bool(built_on))
        health = await client.get("/healthz")  # the loop is free while a scrape is built
        assert health.status_code in (200, 503)
        assert not any(task.done() for task in scrapes)
        release.set()
        answers = await asyncio.gather(*scrapes)
    assert built_on == ["uplight-worker_0"]  # one build, in the worker thread, for all three
    bodies = {await answer.get_data() for answer in answers}
    assert len(bodies) == 1 and b"uplight_monitors 1.0" in bodies.pop()


# -- contrib: alert rules and dashboard use only exported metrics ----------------


async def exported_names(make_config: MakeConfig, registry: PluginRegistry) -> set[str]:
    """Sample names of a scrape where every uplight metric has a value."""
    # A notification channel, so the per-channel notification series exist (nothing is sent).
    channel = '\n[[notifiers]]\nid = "ops"\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n'
    # One monitor of each check type whose gauges read only its own type's results.
    others = {
        "port": (
            f'type = "tcp"\nhost = "127.0.0.1"\nport = {refused_port()}',
            {"phases": {"connect": 0.01}},
        ),
        "icmp": (
            'type = "ping"\nhost = "127.0.0.1"\ncount = 1',
            {"packet_loss_percent": 0.0, "rtt": {"avg": 0.001}},
        ),
        "script": (
            'type = "command"\ncommand = ["true"]',
            {"exit_code": 0, "perfdata": [{"metric": "load1", "base_value": 0.5}]},
        ),
        "upstream": (
            f'type = "feed"\nurl = "http://127.0.0.1:{refused_port()}/history.atom"',
            {"unresolved_entries": 1},
        ),
        # Checked here and by a probe (docs/probes.md): the per-location gauge.
        "joined": (
            f'type = "tcp"\nhost = "127.0.0.1"\nport = {refused_port()}\n'
            'locations = ["local", "fra1"]\nquorum = 1',
            {"phases": {"connect": 0.01}},
        ),
    }
    extra = "".join(
        f'\n[[monitors]]\nid = "{m}"\nname = "{m}"\ninterval = "1m"\ntimeout = "5s"\n{keys}\n'
        for m, (keys, _) in others.items()
    )
    config = make_config(
        SCHEDULER + monitor("site", f"http://127.0.0.1:{refused_port()}/") + extra + channel
    )
    app = create_app(config, registry)
    async with app.test_app() as test_app:
        rt: Runtime = app.extensions[EXTENSION]
        await wait_for(lambda: all(s.checks.total() >= 1 for s in rt.scheduler.states.values()))
        details = {
            "phases": {"connect": 0.01, "tls": 0.02, "ttfb": 0.03},
            "cert": {"not_after": "2030-01-01T00:00:00Z", "days_left": 5.0},
            "answer_count": 2,
        }
        rt.check_stats.observe(config.monitors[0], record("site", details=details))
        for index, (name, (_, reported)) in enumerate(others.items(), start=1):
            rt.check_stats.observe(config.monitors[index], record(name, details=reported))
        await rt.store.flush()  # so the last-flush gauge exists too
        response = await test_app.test_client().get("/metrics")
        return {s.name for s in parse(await response.get_data(as_text=True))}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    exprs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("expr", "definition") and isinstance(item, str):
                    exprs.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text()))
    return exprs


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert len(by_name) == len(rules)
    wanted = {
        "UplightMonitorDown": ("uplight_monitor_up == 0", "5m"),
        "UplightCertificateExpiringSoon": ("uplight_tls_cert_days_left < 14", None),
        "UplightSchedulerLagging": ("uplight_scheduler_lag_seconds > 30", "10m"),
        "UplightStoreBacklog": ("uplight_store_pending_writes > 1000", "5m"),
        "UplightTargetDown": ('up{job="uplight"} == 0', None),
    }
    for name, (expr, duration) in wanted.items():
        assert expr in by_name[name]["expr"], name
        assert duration is None or by_name[name]["for"] == duration, name


def test_promtool_accepts_the_alert_rules() -> None:
    """Prometheus's own checker: catches PromQL and rule-file errors the YAML tests cannot."""
    promtool = shutil.which("promtool")
    if promtool is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus)"
        # Printed past pytest's capture too, so the run says why this was not checked.
        print(f"\n[test_metrics] SKIPPED: {reason}", file=sys.__stderr__)
        pytest.skip(reason)
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout, done.stdout


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["monitor"]["definition"] == "label_values(uplight_monitor_up, monitor)"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
    exprs = " ".join(dashboard_exprs())
    for needed in (
        "uplight_monitor_up",
        "uplight_check_duration_seconds_bucket",
        "uplight_checks_total",
        "uplight_check_errors_total",
        "uplight_tls_cert_days_left",
        "uplight_dns_answer_count",
        "uplight_http_phase_duration_seconds",
        "uplight_scheduler_lag_seconds",
        "uplight_store_pending_writes",
    ):
        assert needed in exprs, needed


async def test_contrib_and_docs_name_only_exported_metrics(
    make_config: MakeConfig, registry: PluginRegistry
) -> None:
    exported = await exported_names(make_config, registry)
    for name in HELP:  # HELP lists every uplight metric; each is really exported
        assert name in exported or f"{name}_count" in exported, name
    docs = DOCS.read_text()
    sources = {
        "alerts": [rule["expr"] for rule in alert_rules()],
        "dashboard": dashboard_exprs(),
        "docs": [docs],  # the docs may name a histogram without its suffixes
    }
    for source, exprs in sources.items():
        used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
        allowed = exported | set(HELP) if source == "docs" else exported
        assert used and used <= allowed, (source, used - allowed)
    assert all(f"`{name}`" in docs for name in HELP)


def test_an_open_incident_shows_whether_or_not_its_monitor_is_on_a_page(harness: Harness) -> None:
    """Private incidents are visible on /metrics (issue 12): one series per monitor."""
    harness.runtime.incidents.tracker("b").active_incident = 7
    samples = harness.scrape()
    assert value(samples, "uplight_monitor_incident_open", monitor="b") == 1
    assert value(samples, "uplight_monitor_incident_open", monitor="a") == 0
    harness.runtime.incidents.tracker("b").active_incident = None
    assert value(harness.scrape(), "uplight_monitor_incident_open", monitor="b") == 0
