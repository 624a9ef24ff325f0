"""/metrics after real dns and tls checks: a DNS server and a TLS server on 127.0.0.1.

The unit tests of the collector feed it synthetic details; these prove the real check
plugins report what the collector reads (``answer_count``, ``cert``) and that a
scrape exports it with the right values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from certs import TlsServer, days_from_now, make_ca, make_cert, server_context
from dnsserver import DnsServer, Name
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from uplight.config import Config
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime
from uplight.web.app import create_app
from uplight.web.context import EXTENSION

pytestmark = pytest.mark.timeout(30)

MakeConfig = Callable[[str], Config]
ANSWERS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
ZONE = {
    "example.org": {"A": ANSWERS},
    # Longer than the monitor's timeout: the check gives up without any answer.
    "slow.example.org": Name({"A": ["10.0.0.9"]}, delay=5),
}
SECONDS_PER_DAY = 86400


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as running:
        yield running


def samples_of(text: str) -> list[Sample]:
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


async def test_scrape_after_real_dns_and_tls_checks(
    make_config: MakeConfig, registry: PluginRegistry, dns_server: DnsServer, tmp_path: Path
) -> None:
    root = make_ca("uplight metrics root")
    ca_file = root.write_cert(tmp_path / "root.pem")
    # 5 days left: between critical_days (3) and warn_days (14), so the check is degraded.
    leaf = make_cert("127.0.0.1", issuer=root, not_after=days_from_now(5))
    async with TlsServer(server_context(leaf)) as tls_server:
        config = make_config(
            '[scheduler]\nmax_jitter = "0s"\n'
            '[[monitors]]\nid = "resolver"\nname = "Resolver"\ntype = "dns"\n'
            f'interval = "1h"\ntimeout = "2s"\nquery = "example.org"\n'
            f'nameservers = ["{dns_server.address}"]\n'
            '[[monitors]]\nid = "stalled"\nname = "Stalled"\ntype = "dns"\n'
            f'interval = "1h"\ntimeout = "0.5s"\nquery = "slow.example.org"\n'
            f'nameservers = ["{dns_server.address}"]\n'
            '[[monitors]]\nid = "cert"\nname = "Cert"\ntype = "tls"\n'
            f'interval = "1h"\ntimeout = "2s"\nhost = "127.0.0.1"\nport = {tls_server.port}\n'
            f'ca_file = "{ca_file}"\n'
        )
        app = create_app(config, registry)
        async with app.test_app() as test_app:
            runtime: Runtime = app.extensions[EXTENSION]
            # Only the checks run here count: no start-up check races the assertions.
            await runtime.scheduler.stop()
            records = await asyncio.gather(
                *(runtime.scheduler.run_once(m) for m in ("resolver", "stalled", "cert"))
            )
            response = await test_app.test_client().get("/metrics")
            text = await response.get_data(as_text=True)

    assert response.status_code == 200
    assert [r.result.status.value for r in records] == ["up", "down", "degraded"]
    samples = samples_of(text)
    states = runtime.scheduler.states

    # DNS: the records the server served, and nothing at all without an answer.
    assert value(samples, "uplight_dns_answer_count", monitor="resolver") == len(ANSWERS)
    assert pick(samples, "uplight_dns_answer_count", monitor="stalled") == []
    assert pick(samples, "uplight_dns_answer_count", monitor="cert") == []

    # TLS: the certificate's own expiry, and about five days left.
    not_after = leaf.cert.not_valid_after_utc.timestamp()
    got_not_after = value(samples, "uplight_tls_cert_not_after_timestamp_seconds", monitor="cert")
    assert got_not_after == pytest.approx(not_after, abs=1)
    days_left = value(samples, "uplight_tls_cert_days_left", monitor="cert")
    assert days_left == pytest.approx(5, abs=0.01)
    assert pick(samples, "uplight_tls_cert_days_left", monitor="resolver") == []

    # Status words and result counters follow the checks.
    assert value(samples, "uplight_monitor_status", monitor="cert", status="degraded") == 1
    assert value(samples, "uplight_monitor_status", monitor="resolver", status="operational") == 1
    assert value(samples, "uplight_monitor_status", monitor="stalled", status="major_outage") == 1
    expected = {"resolver": "up", "stalled": "down", "cert": "degraded"}
    for monitor_id, result in expected.items():
        for word in ("up", "degraded", "down"):
            got = value(samples, "uplight_checks_total", monitor=monitor_id, result=word)
            # Counters match the scheduler's own, and the one check run here is in its bucket.
            assert got == states[monitor_id].checks[word], (monitor_id, word)
            assert (got >= 1) == (word == result), (monitor_id, word, got)
