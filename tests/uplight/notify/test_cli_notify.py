"""`uplight notify test CHANNEL`: a real subprocess against a local receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from servers import HttpServer, Route, refused_port

CONFIG = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
[[notifiers]]
id = "hook"
type = "webhook"
url = "{url}"
secret = "sign-with-this"
timeout = "2s"
"""


def notify_test(config: Path, channel: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uplight", "notify", "test", channel, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_test_message_is_sent(tmp_path: Path) -> None:
    with HttpServer({"/hook": Route(204)}) as receiver:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(url=receiver.url("/hook")))
        done = notify_test(config, "hook")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("sent")
        (request,) = receiver.requests
        payload = json.loads(request.body)
        assert payload["event"] == "test" and payload["title"] == "uplight test notification"
        assert request.headers["x-uplight-signature"].startswith("sha256=")


def test_a_refused_delivery_exits_1_with_the_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    url = f"http://127.0.0.1:{refused_port()}/hook-CANARY-77"
    config.write_text(CONFIG.format(url=url))
    done = notify_test(config, "hook")
    assert done.returncode == 1
    assert done.stderr.startswith("error: hook (webhook): ")
    assert "CANARY" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_channel_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url="http://127.0.0.1:9/"))
    done = notify_test(config, "phone")
    assert done.returncode == 1
    assert "no notifier has id 'phone' (configured: hook)" in done.stderr


def test_check_config_warns_of_monitors_that_name_channels_but_open_no_incident(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        """
[defaults]
notify = ["phone"]
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
[[monitors]]
id = "quiet"
name = "Quiet"
type = "http"
url = "http://127.0.0.1:9/"
notify = []
incidents = false
[[monitors]]
id = "nas"
name = "NAS"
type = "http"
url = "http://127.0.0.1:9/"
[[monitors]]
id = "db"
name = "DB"
type = "http"
url = "http://127.0.0.1:9/"
notify = ["phone", "mail"]
incidents = false
[[monitors]]
id = "info"
name = "Info"
type = "http"
url = "http://127.0.0.1:9/"
incidents = false
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
[[notifiers]]
id = "phone"
type = "webhook"
url = "http://127.0.0.1:9/phone"
[[notifiers]]
id = "mail"
type = "webhook"
url = "http://127.0.0.1:9/mail"
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "uplight", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "warning" not in done.stdout
    # nas is on no page and still opens incidents; quiet names no channel; info only
    # inherits [defaults] notify: only db is warned about.
    assert done.stderr.splitlines() == [
        "warning: monitors[3] ('db') notifies phone, mail but has incidents = false:"
        " only certificate warnings reach them",
    ]


def test_incidents_must_be_true_or_false(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
incidents = "no"
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "uplight", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "monitors[0].incidents" in done.stderr and "true or false" in done.stderr
