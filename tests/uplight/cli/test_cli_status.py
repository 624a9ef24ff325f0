"""`uplight status` against a real `uplight serve` process (issue 15, CLI comfort).

One monitor is up, one is down (its target port is closed) and a manual one is set
to degraded: the table, the JSON and the exit status say so; colour appears on a
terminal only, and never with NO_COLOR; --watch redraws (a bounded --count here).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from helpers import UPLIGHT, create_token, free_port, serving, wait_until
from servers import HttpServer, Route

from uplight.cli import main, status


@dataclass
class Server:
    url: str
    token: str


CONFIG = """
[server]
listen = "127.0.0.1:{port}"
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
id = "dead"
name = "Dead"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "switch"
name = "Switch"
type = "manual"
interval = "1h"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-status")
    port = free_port()
    with HttpServer({"/": Route(200, "ok")}) as target:
        config = folder / "config.toml"
        config.write_text(CONFIG.format(port=port, target=target.url("/"), dead=free_port()))
        token = create_token(config, "operator")
        with serving(config, port):
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}

            def checked() -> bool:
                items = httpx.get(f"{url}/api/v1/monitors", headers=headers).json()["items"]
                return all(m["last_result"] for m in items if m["type"] == "http")

            wait_until(checked)
            assert main(["monitors", "set-state", "switch", "degraded", "--message",
                         "one disk rebuilding", "--url", url, "--token", token]) == 0  # fmt: skip
            yield Server(url, token)


def run(server: Server, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["status", *argv, "--url", server.url, "--token", server.token])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_exit_status_and_no_colour_off_a_terminal(server: Server, capsys) -> None:
    code, out, err = run(server, capsys)
    assert code == status.EXIT_DOWN, err  # "dead" is down
    header, *rows = out.splitlines()
    assert header.split() == ["MONITOR", "STATE", "SINCE", "LATENCY", "MESSAGE"]
    by_id = {row.split()[0]: row for row in rows}
    assert by_id.keys() == {"site", "dead", "switch"}
    assert by_id["site"].split()[1] == "operational" and " ms" in by_id["site"]
    assert by_id["dead"].split()[1] == "down"
    assert by_id["switch"].split()[1] == "degraded"
    assert by_id["switch"].endswith("one disk rebuilding")
    # since: the UTC time and how long ago, e.g. "2026-12-04 22:01:05Z (3s ago)"
    assert " ago)" in by_id["site"] and "Z (" in by_id["site"]
    assert "\x1b" not in out  # stdout is not a terminal here


def test_json_is_the_api_answer(server: Server, capsys) -> None:
    code, out, _ = run(server, capsys, "--json")
    assert code == status.EXIT_DOWN
    items = {m["id"]: m for m in json.loads(out)["items"]}
    assert {k: m["state"] for k, m in items.items()} == {
        "site": "operational",
        "dead": "down",
        "switch": "degraded",
    }
    assert items["site"]["last_result"]["latency_seconds"] is not None


def test_exit_zero_when_nothing_is_down() -> None:
    up = {"items": [{"state": s} for s in ("operational", "degraded", "maintenance", "no_data")]}
    assert status.exit_code(up) == 0
    assert status.exit_code({"items": [*up["items"], {"state": "down"}]}) == status.EXIT_DOWN


def test_watch_redraws_until_the_count(server: Server, capsys, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(status, "sleep", waits.append)
    code, out, _ = run(server, capsys, "--watch", "2", "--count", "3")
    assert code == status.EXIT_DOWN
    assert waits == [2.0, 2.0]  # between frames, not after the last
    assert status.CLEAR not in out  # not a terminal: frames follow each other
    headings = [line for line in out.splitlines() if line.startswith(server.url)]
    assert len(headings) == 3 and "every 2s" in headings[0] and "1 down" in headings[0]
    assert out.count("MONITOR  ") == 3

    code, out, _ = run(server, capsys, "--watch", "--count", "2", "--json")
    assert waits[2:] == [status.DEFAULT_INTERVAL]
    assert [len(json.loads(line)["items"]) for line in out.splitlines()] == [3, 3]


def test_watch_outlives_an_unreachable_server(capsys, monkeypatch) -> None:
    monkeypatch.setattr(status, "sleep", lambda _: None)
    dead = f"http://127.0.0.1:{free_port()}"
    code = main(["status", "--watch", "--count", "2", "--url", dead, "--token", "upl_x"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("error: UNREACHABLE: ") == 2 and "(trying again)" in err
    code = main(["status", "--url", dead, "--token", "upl_x"])  # without --watch: one error
    assert code == 1 and "(trying again)" not in capsys.readouterr().err


def test_watch_interval_is_checked(capsys) -> None:
    for bad in ("0.5", "soon"):
        with pytest.raises(SystemExit) as exc:
            main(["status", "--watch", bad])
        assert exc.value.code == 2
        assert "argument --watch" in capsys.readouterr().err


def _on_a_terminal(server: Server, **env: str) -> str:
    """`uplight status` with its stdout on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    proc = subprocess.Popen(
        [*UPLIGHT, "status", "--url", server.url, "--token", server.token],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environ,
    )
    os.close(follower)
    chunks = []
    while select.select([leader], [], [], 20)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=20) == status.EXIT_DOWN, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color(server: Server) -> None:
    shown = _on_a_terminal(server)
    assert "\x1b[1;31mdown" in shown and "\x1b[32moperational" in shown
    assert "\x1b[33mdegraded" in shown
    assert "\x1b[" not in _on_a_terminal(server, NO_COLOR="1")


def test_render_fits_a_narrow_terminal() -> None:
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    data = {
        "items": [
            {
                "id": "api",
                "state": "down",
                "since": "2030-01-01T09:58:55Z",
                "last_result": {"latency_seconds": None, "message": "refused " * 40},
            }
        ]
    }
    lines = status.render(data, now=now, width=80).splitlines()
    assert lines[1].startswith("api      down   2030-01-01 09:58:55Z (2h 1m ago)  -        ")
    assert all(len(line) <= 80 for line in lines) and lines[1].endswith("…")
