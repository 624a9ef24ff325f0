"""Notifications end to end: a real `uplight serve`, a local target, a local receiver.

A target goes down and comes back: each channel gets exactly one "opened" and
one "ended". The receiver is down while the target flaps, the server is killed
with SIGKILL mid-backlog and restarted: the whole backlog still arrives, in
order per incident, with a duplicate only ever under the same idempotency key.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from helpers import free_port, wait_until
from servers import HttpServer, RecordedRequest, Route, refused_port

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
[storage]
path = "uplight.db"
[scheduler]
max_jitter = "0s"
[defaults]
notify = ["hook-a", "hook-b"]
[[monitors]]
id = "target"
name = "Target"
type = "http"
interval = "1s"
timeout = "1s"
failure_threshold = 1
recovery_threshold = 1
url = "{target}"
[[pages]]
slug = "main"
title = "E2E"
[[pages.components]]
monitor = "target"
[[notifiers]]
id = "hook-a"
type = "webhook"
url = "http://127.0.0.1:{receiver}/a"
secret = "a-secret"
timeout = "1s"
retry_backoff = "100ms"
[[notifiers]]
id = "hook-b"
type = "webhook"
url = "http://127.0.0.1:{receiver}/b"
timeout = "1s"
retry_backoff = "100ms"
"""


# The down-and-back run also has one channel of each chat/push type on the same
# receiver, each on its own path (ntfy publishes JSON to the server's root).
MORE_CHANNELS = """
[[notifiers]]
id = "push"
type = "ntfy"
server = "http://127.0.0.1:{receiver}/ntfy"
topic = "e2e"
timeout = "1s"
retry_backoff = "100ms"
[[notifiers]]
id = "chat"
type = "slack"
webhook_url = "http://127.0.0.1:{receiver}/slack"
timeout = "1s"
retry_backoff = "100ms"
[[notifiers]]
id = "guild"
type = "discord"
webhook_url = "http://127.0.0.1:{receiver}/discord"
timeout = "1s"
retry_backoff = "100ms"
"""
ALL_CHANNELS = (CONFIG + MORE_CHANNELS).replace(
    'notify = ["hook-a", "hook-b"]', 'notify = ["hook-a", "hook-b", "push", "chat", "guild"]'
)
WEBHOOK_PATHS = ("/a", "/b")


def event_of(path: str, body: dict) -> str:
    """The event a delivery stands for, read from what that channel type sends."""
    if path in WEBHOOK_PATHS:
        return str(body["event"])
    title = {
        "/ntfy/": lambda: body["title"],
        "/slack": lambda: body["text"],  # the fallback text starts with the title
        "/discord": lambda: body["embeds"][0]["title"],
    }[path]()
    if "Target recovered after" in title:
        return "incident_ended"
    if "Target is down" in title or "Target is degraded" in title:
        return "incident_opened"
    return title  # anything else: shown as it is by the failed comparison


def serve(config: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.communicate()[0]) from None
    return proc


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def outbox(db: Path) -> list[tuple[str, str, str, int, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT channel, event, idempotency_key, incident_id, status"
            " FROM notification_outbox ORDER BY id"
        ).fetchall()


def deliveries(receiver: HttpServer) -> list[tuple[str, RecordedRequest, dict]]:
    return [(r.path, r, json.loads(r.body)) for r in list(receiver.requests)]


def test_down_and_back_up_is_one_opened_and_one_ended_per_channel(tmp_path: Path) -> None:
    port = free_port()
    routes = {"/a": Route(200), "/b": Route(204), "/ntfy/": Route(200, "{}")}
    routes |= {"/slack": Route(200, "ok"), "/discord": Route(204)}
    with (
        HttpServer({"/": Route(200, "ok")}) as target,
        HttpServer(routes) as receiver,
    ):
        config = tmp_path / "config.toml"
        config.write_text(
            ALL_CHANNELS.format(port=port, target=target.url("/"), receiver=receiver.port)
        )
        proc = serve(config, port)
        output = ""
        try:
            wait_until(lambda: len(target.requests) >= 2)  # up and checked
            target.routes["/"] = Route(500, "broken")
            wait_until(lambda: len(receiver.requests) >= len(routes))
            target.routes["/"] = Route(200, "ok")
            wait_until(lambda: len(receiver.requests) >= 2 * len(routes))
            time.sleep(2.5)  # a few more up checks: nothing else may arrive
        finally:
            if proc.poll() is None:
                output = stop(proc)
    got = deliveries(receiver)
    assert Counter((path, event_of(path, body)) for path, _, body in got) == {
        (path, event): 1 for path in routes for event in ("incident_opened", "incident_ended")
    }, output
    hooks = [(path, r, body) for path, r, body in got if path in WEBHOOK_PATHS]
    keys = [r.headers["idempotency-key"] for _, r, _ in hooks]
    assert len(set(keys)) == 4 and keys == [body["idempotency_key"] for _, _, body in hooks]
    for path, request, body in hooks:
        assert request.headers["x-uplight-event"] == body["event"]
        assert ("x-uplight-signature" in request.headers) == (path == "/a")
    ended = next(body for path, _, body in hooks if body["event"] == "incident_ended")
    assert ended["downtime_seconds"] > 0 and ended["monitor_id"] == "target"
    assert ended["url"].endswith(f"/status/incidents/{ended['incident_id']}")


def test_backlog_survives_sigkill_and_arrives_after_restart(tmp_path: Path) -> None:
    port = free_port()
    receiver_port = refused_port()  # nothing listens there yet: every send is refused
    db = tmp_path / "uplight.db"
    with HttpServer({"/": Route(200, "ok")}) as target:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(port=port, target=target.url("/"), receiver=receiver_port))
        proc = serve(config, port)
        try:
            for flip, rows in ((500, 2), (200, 4), (500, 6), (200, 8)):
                target.routes["/"] = Route(flip, "x")
                wait_until(lambda rows=rows: len(outbox(db)) >= rows)
            proc.send_signal(signal.SIGKILL)  # mid-backlog: nothing delivered, nothing flushed
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        backlog = outbox(db)
        assert len(backlog) == 8 and {row[4] for row in backlog} == {"pending"}

        with HttpServer({"/a": Route(200), "/b": Route(200)}, port=receiver_port) as receiver:
            proc = serve(config, port)
            try:
                expected = {row[2] for row in backlog}
                wait_until(
                    lambda: (
                        expected
                        <= {r.headers.get("idempotency-key") for r in list(receiver.requests)}
                    ),
                    timeout=30,
                )
                wait_until(lambda: all(row[4] == "sent" for row in outbox(db)[:8]))
            finally:
                if proc.poll() is None:
                    stop(proc)
    got = deliveries(receiver)
    keys = [r.headers["idempotency-key"] for _, r, _ in got]
    assert set(keys) == expected  # none lost, none made up: a repeat carries its key
    # Per channel and incident: opened before ended, and a repeat keeps its key.
    order: dict[tuple[str, int], list[str]] = defaultdict(list)
    for path, _, body in got:
        events = order[(path, body["incident_id"])]
        if not events or events[-1] != body["event"]:
            events.append(body["event"])
    assert all(v == ["incident_opened", "incident_ended"] for v in order.values()), order
    assert len(order) == 4  # two incidents on each of two channels


PRIVATE = """
[server]
listen = "127.0.0.1:{port}"
[storage]
path = "uplight.db"
[scheduler]
max_jitter = "0s"
[defaults]
notify = ["hook"]
[[monitors]]
id = "site"
name = "Public Site"
type = "http"
interval = "1s"
timeout = "1s"
url = "{target}/site"
[[monitors]]
id = "nas"
name = "Backup Box Seven"
type = "http"
interval = "1s"
timeout = "1s"
failure_threshold = 1
recovery_threshold = 1
url = "{target}/nas"
[[monitors]]
id = "info"
name = "Informational Probe"
type = "http"
interval = "1s"
timeout = "1s"
failure_threshold = 1
incidents = false
url = "{target}/info"
[[pages]]
slug = "main"
title = "E2E"
[[pages.components]]
monitor = "site"
[[notifiers]]
id = "hook"
type = "webhook"
url = "http://127.0.0.1:{receiver}/hook"
timeout = "1s"
retry_backoff = "100ms"
"""


def incidents_of(db: Path) -> list[tuple[int, str, str | None]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT id, monitor_id, ended_at FROM incidents ORDER BY id").fetchall()


def test_a_monitor_on_no_page_opens_ends_and_notifies_privately(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    routes = {"/site": Route(200, "ok"), "/nas": Route(503, "down"), "/info": Route(500, "x")}
    with HttpServer(routes) as target, HttpServer({"/hook": Route(200)}) as receiver:
        config = tmp_path / "config.toml"
        config.write_text(
            PRIVATE.format(port=port, target=target.url("").rstrip("/"), receiver=receiver.port)
        )
        proc = serve(config, port)
        output = ""
        try:
            wait_until(lambda: len(receiver.requests) >= 1)  # nas opened
            target.routes["/nas"] = Route(200, "ok")
            wait_until(lambda: len(receiver.requests) >= 2)  # nas ended
            public = {}
            for path in (
                "/status",
                "/status/fragment",
                "/status/pages/main",
                "/api/public/v1/status.json",
                "/api/public/v1/incidents.rss",
                "/api/public/v1/badge.svg",
            ):
                answer = httpx.get(base + path)
                assert answer.status_code == 200, path
                public[path] = answer.text
            (incident_id,) = {json.loads(r.body)["incident_id"] for r in receiver.requests}
            for path in (
                f"/status/incidents/{incident_id}",
                f"/status/pages/main/incidents/{incident_id}",
            ):
                answer = httpx.get(base + path, follow_redirects=True)
                assert answer.status_code == 404, path
                public[path] = answer.text
            time.sleep(1.5)  # more failed checks of "info": still no incident
        finally:
            if proc.poll() is None:
                output = stop(proc)

    opened, ended = (json.loads(r.body) for r in receiver.requests)
    assert (opened["event"], ended["event"]) == ("incident_opened", "incident_ended"), output
    operator_url = f"{base}/api/v1/incidents/{incident_id}"
    assert opened["monitor_id"] == "nas" and opened["check_type"] == "http"
    assert "503" in opened["reason"] and opened["latency_seconds"] > 0
    assert opened["url"] is None and opened["operator_url"] == operator_url
    assert f"Reason: {opened['reason']} (http check, " in opened["text"]
    assert opened["text"].endswith(operator_url)
    assert "200" in ended["reason"] and ended["operator_url"] == operator_url
    # The operator's log says why, at the default level (info).
    assert f"monitor nas is down: {opened['reason']} [http check, " in output
    assert "monitor nas is up (was down): " in output
    assert "monitor info is down: " in output
    # Private: neither its monitor's name nor its id shows on any public route.
    for path, text in public.items():
        assert "Backup Box Seven" not in text and f"incidents/{incident_id}" not in text, path
    # incidents = false: checked, logged, never an incident.
    assert [(i, m) for i, m, _ in incidents_of(tmp_path / "uplight.db")] == [(incident_id, "nas")]
