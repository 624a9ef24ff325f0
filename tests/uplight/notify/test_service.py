"""The whole in one process: runtime, app, the real webhook channel, a local receiver.

Incidents opened by the engine and updates posted through the API reach the
receiver; the health dashboard and /metrics show the channel's state without
ever showing its URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from certs import TlsServer, days_from_now, make_ca, make_cert, server_context
from helpers import wait_for
from prometheus_client.parser import text_string_to_metric_families
from servers import HttpServer, Route

from uplight.auth.tokens import create_token
from uplight.models import CheckResult, ResultRecord
from uplight.runtime import Runtime
from uplight.web import create_app

SECRET_PATH = "/hook-CANARY-5e1"

CONFIG = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
failure_threshold = 1
notify = ["hook", "quiet"]
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
[[notifiers]]
id = "hook"
type = "webhook"
url = "{url}"
send_updates = true
retry_backoff = "1h"
[[notifiers]]
id = "quiet"
type = "fake"
enabled = false
"""


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


async def test_incidents_and_updates_reach_the_receiver(parse, notify_registry, inbox) -> None:
    with HttpServer({SECRET_PATH: Route(200, "ok")}) as receiver:
        config = parse(CONFIG.format(url=receiver.url(SECRET_PATH)))
        runtime = Runtime(config, notify_registry)
        app = create_app(config, notify_registry, runtime=runtime)
        async with app.test_app() as test_app:
            await runtime.scheduler.stop()
            client = test_app.test_client()
            auth = {"Authorization": f"Bearer {await create_token(runtime.store, 'tester')}"}
            web = config.monitor("web")
            now = dt.datetime.now(dt.UTC)
            await runtime.incidents.observe(web, ResultRecord("web", now, CheckResult.down("x")))
            await wait_for(lambda: len(receiver.requests) == 1)
            response = await client.post(
                "/api/v1/incidents/1/updates",
                json={"phase": "identified", "message": "Disk full"},
                headers=auth,
            )
            assert response.status_code == 201
            await wait_for(lambda: len(receiver.requests) == 2)
            opened, update = (json.loads(r.body) for r in receiver.requests)
            assert (opened["event"], opened["incident_id"], opened["monitor_id"]) == (
                "incident_opened",
                1,
                "web",
            )
            assert update["event"] == "incident_update"
            assert update["extra"]["message"] == "Disk full"
            assert receiver.requests[1].headers["x-uplight-event"] == "incident_update"
            keys = {r.headers["idempotency-key"] for r in receiver.requests}
            assert len(keys) == 2

            # The receiver has the request a moment before the worker records the success.
            for _ in range(100):
                scrape = await (await client.get("/metrics")).get_data(as_text=True)
                if (
                    metric(scrape, "uplight_notifications_total", channel="hook", result="sent")
                    == 2
                ):
                    break
                await asyncio.sleep(0.02)
            assert metric(scrape, "uplight_notifications_total", channel="hook", result="sent") == 2
            assert metric(scrape, "uplight_notification_queue_depth", channel="hook") == 0
            assert (
                metric(scrape, "uplight_notifications_total", channel="quiet", result="sent") == 0
            )

            # The receiver fails: the end is retried later (backoff 1h), and shows up.
            receiver.routes[SECRET_PATH] = Route(500, "no")
            later = dt.datetime.now(dt.UTC)
            await runtime.incidents.observe(web, ResultRecord("web", later, CheckResult.up()))
            await wait_for(lambda: len(receiver.requests) == 3)
            await wait_for(lambda: runtime.notifications.stats.queue_depth == 1)
            dashboard = await (
                await client.get("/api/v1/health/dashboard", headers=auth)
            ).get_json()
            hook, quiet = dashboard["notifications"]
            assert (hook["id"], hook["type"], hook["enabled"]) == ("hook", "webhook", True)
            assert (hook["pending"], hook["dead"]) == (1, 0)
            assert hook["last_success"] is not None and hook["last_failure"] is not None
            assert "500" in hook["last_error"]
            assert (quiet["id"], quiet["enabled"], quiet["pending"]) == ("quiet", False, 0)
            scrape = await (await client.get("/metrics")).get_data(as_text=True)
            assert (
                metric(scrape, "uplight_notifications_total", channel="hook", result="failed") == 1
            )
            assert metric(scrape, "uplight_notification_queue_depth", channel="hook") == 1
            assert (
                metric(scrape, "uplight_notification_oldest_pending_seconds", channel="hook") >= 0
            )
            for text in (json.dumps(dashboard), scrape):
                assert "CANARY" not in text
        assert inbox.sent == []  # the disabled channel got nothing


CERT_CONFIG = """
[[monitors]]
id = "nas-cert"
name = "NAS certificate"
type = "tls"
host = "127.0.0.1"
port = {tls_port}
ca_file = "{ca_file}"
interval = "1h"
timeout = "5s"
warn_days = 14
critical_days = 3
notify = ["hook"]
incidents = false  # certificate warnings only: they need no incident
[[notifiers]]
id = "hook"
type = "webhook"
url = "{url}"
"""


async def test_a_real_tls_check_warns_once_about_its_certificate(
    parse, notify_registry, tmp_path
) -> None:
    root = make_ca()
    leaf = make_cert("127.0.0.1", issuer=root, not_after=days_from_now(10))
    ca_file = root.write_cert(tmp_path / "ca.pem")
    async with TlsServer(server_context(leaf)) as tls:
        with HttpServer({"/hook": Route(200)}) as receiver:
            text = CERT_CONFIG.format(tls_port=tls.port, ca_file=ca_file, url=receiver.url("/hook"))
            config = parse(text)
            runtime = Runtime(config, notify_registry)
            app = create_app(config, notify_registry, runtime=runtime)
            async with app.test_app():
                await runtime.scheduler.stop()
                for _ in range(2):  # a second result below the threshold adds nothing
                    record = await runtime.scheduler.run_once("nas-cert")
                    assert record.result.status.value == "degraded"
                await wait_for(lambda: len(receiver.requests) == 1)
                await runtime.notifications.worker.run_once()
                (request,) = receiver.requests
                body = json.loads(request.body)
                assert body["event"] == "certificate_expiring"
                assert 9 <= body["extra"]["days_left"] <= 10.01
                days = int(body["extra"]["days_left"])
                assert body["title"] == f"NAS certificate: certificate expires in {days} days"
                assert body["extra"]["warn_days"] == 14
