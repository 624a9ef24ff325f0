"""The probe's sender and poller against a real HTTP server on loopback: what leaves the
spool (answered: stored or refused for good) and what stays (the server away)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.servers import HttpServer, Route, refused_port
from uplight.plugins import PluginRegistry
from uplight.probes.client import Probe, ProbeRefused, ProbeSettings
from uplight.probes.models import ProbeResult
from uplight.probes.spool import Spool

AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def result(n: int) -> ProbeResult:
    return ProbeResult(id=f"r{n}", monitor_id="edge", checked_at=AT, status="up")


def probe(url: str, spool: Spool, registry: PluginRegistry) -> Probe:
    settings = ProbeSettings(server=url, token="upl_x", location="home")
    return Probe(settings, spool, registry.check_types)


def answer(*outcomes: dict) -> Route:
    body = {"accepted": 1, "refused": 1, "results": list(outcomes)}
    return Route(200, json.dumps(body), {"Content-Type": "application/json"})


async def test_answered_results_leave_the_spool(tmp_path: Path, registry: PluginRegistry) -> None:
    spool = Spool(tmp_path / "s.spool")
    for n in range(3):
        spool.add(result(n))
    refused = {"code": "NOT_ASSIGNED", "message": "no"}
    route = answer({"id": "r0", "stored": True}, {"id": "r1", "stored": False, "error": refused})
    with HttpServer({"/api/v1/probe/results": route}) as server:
        sender = probe(server.url(""), spool, registry)
        assert await sender.send()
        await sender.close()
        sent = json.loads(server.requests[0].body)
        assert [r["id"] for r in sent["results"]] == ["r0", "r1", "r2"]
        assert server.requests[0].headers["authorization"] == "Bearer upl_x"
    # r2 was not answered (a lost line of the answer): it is sent again next time.
    assert [r.id for r in spool.oldest(10)] == ["r2"]


async def test_the_server_away_keeps_everything(tmp_path: Path, registry: PluginRegistry) -> None:
    spool = Spool(tmp_path / "s.spool")
    spool.add(result(1))
    sender = probe(f"http://127.0.0.1:{refused_port()}", spool, registry)
    assert not await sender.send()
    assert not await sender.poll()
    await sender.close()
    assert spool.pending() == 1


async def test_a_batch_the_server_cannot_take_is_dropped_and_counted(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    spool = Spool(tmp_path / "s.spool")
    spool.add(result(1))
    spool.add(result(2))
    error = {"error": {"code": "VALIDATION_ERROR", "message": "results[0].status: bad"}}
    route = Route(422, json.dumps(error), {"Content-Type": "application/json"})
    with HttpServer({"/api/v1/probe/results": route}) as server:
        sender = probe(server.url(""), spool, registry)
        assert await sender.send()  # answered: nothing to wait for
        await sender.close()
    assert spool.pending() == 0 and spool.dropped == 2


async def test_a_refused_token_stops_the_probe(tmp_path: Path, registry: PluginRegistry) -> None:
    error = {"error": {"code": "UNAUTHORIZED", "message": "the bearer token is not valid"}}
    route = Route(401, json.dumps(error), {"Content-Type": "application/json"})
    with HttpServer({"/api/v1/probe/assignment": route}) as server:
        poller = probe(server.url(""), Spool(tmp_path / "s.spool"), registry)
        with pytest.raises(ProbeRefused, match="UNAUTHORIZED"):
            await poller.poll()
        await poller.close()


async def test_a_token_of_another_location_stops_the_probe(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    body = {"location": "fra1", "version": "v1", "monitors": []}
    route = Route(200, json.dumps(body), {"Content-Type": "application/json"})
    with HttpServer({"/api/v1/probe/assignment": route}) as server:
        poller = probe(server.url(""), Spool(tmp_path / "s.spool"), registry)
        with pytest.raises(ProbeRefused, match="bound to location 'fra1'"):
            await poller.poll()
        await poller.close()
