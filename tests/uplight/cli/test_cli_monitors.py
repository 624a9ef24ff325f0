"""`uplight monitors list|show|set-state` against a real `uplight serve` process.

The config has a monitor on a page, one on no page, a manual one and a group of
the first two: the list shows every one of them; set-state changes the manual
one and refuses any other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers import create_token, free_port, serving
from servers import HttpServer, Route

from uplight.cli import main


@dataclass
class Server:
    url: str
    token: str


def _config(port: int, target: str) -> str:
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "uplight.db"
[scheduler]
max_jitter = "0s"
[[monitors]]
id = "site"
name = "Site"
type = "http"
url = "{target}"
interval = "1h"
[[monitors]]
id = "backend"
name = "Backend"
type = "http"
url = "{target}"
interval = "1h"
[[monitors]]
id = "storage"
name = "Model storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "service"
name = "Service"
type = "group"
members = ["site", "backend"]
interval = "1h"
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "site"
[[pages.components]]
monitor = "storage"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-monitors")
    port = free_port()
    with HttpServer({"/": Route(200, "ok")}) as target:
        config = folder / "config.toml"
        config.write_text(_config(port, target.url("/")))
        token = create_token(config, "operator")
        with serving(config, port):
            yield Server(f"http://127.0.0.1:{port}", token)


def run(server: Server, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["monitors", *argv, "--url", server.url, "--token", server.token])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_monitor(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(server, capsys, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "TYPE",
        "STATE",
        "SINCE",
        "CHECKED",
        "PAGES",
        "INCIDENT",
        "MESSAGE",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["site", "backend", "storage", "service"]

    code, out, _ = run(server, capsys, "list", "--json")
    assert code == 0
    items = {m["id"]: m for m in json.loads(out)["items"]}
    assert items["site"]["pages"] == ["main"] and items["backend"]["pages"] == []
    assert items["service"]["type"] == "group"
    assert items["storage"]["operator_state"]["status"] == "operational"  # its default


def test_set_state_and_show(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        server, capsys, "set-state", "storage", "degraded", "--message", "one disk rebuilding"
    )
    assert code == 0, err
    assert "monitor storage" in out
    assert "state:       degraded" in out
    assert "one disk rebuilding" in out
    assert "set state:   degraded by operator" in out

    code, out, _ = run(server, capsys, "show", "storage", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["state"] == "degraded"
    assert shown["last_result"]["message"] == "one disk rebuilding"
    assert shown["operator_state"]["set_by"] == "operator"


def test_set_state_refusals(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(server, capsys, "set-state", "site", "down")
    assert code == 1
    assert "MONITOR_NOT_MANUAL" in err and "'http'" in err
    code, _, err = run(server, capsys, "set-state", "nothing", "down")
    assert code == 1 and "NOT_FOUND" in err
    code, _, err = run(server, capsys, "show", "nothing")
    assert code == 1 and "NOT_FOUND" in err
