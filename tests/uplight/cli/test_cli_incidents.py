"""`uplight incidents …` against a real `uplight serve` process.

The server checks a port where nothing listens, so the engine opens an
incident by itself; the CLI then lists, shows, narrates and updates it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import create_token, free_port, serving

from uplight.cli import main
from uplight.incidents.store import insert_incident, mark_ended
from uplight.schema import build_store

UPLIGHT = [sys.executable, "-m", "uplight"]


@dataclass
class Server:
    url: str
    token: str
    incident_id: int


def _config(port: int) -> str:
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "uplight.db"
[scheduler]
max_jitter = "0s"
[[monitors]]
id = "dead-end"
name = "Dead end"
type = "http"
url = "http://127.0.0.1:{free_port()}/"
interval = "1s"
timeout = "1s"
failure_threshold = 1
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "dead-end"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(_config(port))
    token = subprocess.run(
        [*UPLIGHT, "token", "create", "--name", "operator", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [*UPLIGHT, "serve", "--config", str(config), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        incident_id = _wait_for_incident(base, token, proc)
        yield Server(base, token, incident_id)
    finally:
        proc.terminate()
        try:
            _, errors = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, errors = proc.communicate()
    assert "Traceback" not in errors, errors


def _wait_for_incident(base: str, token: str, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            response = httpx.get(
                f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
            )
            items = response.json()["items"] if response.status_code == 200 else []
            if items:
                return int(items[0]["id"])
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the engine opened no incident in time")


def run(server: Server, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["incidents", *argv, "--url", server.url, "--token", server.token])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_show(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(server, capsys, "list")
    assert code == 0, err
    header, row = out.splitlines()[:2]
    assert header.split() == ["ID", "STATUS", "SEVERITY", "MONITOR", "STARTED", "ENDED", "TITLE"]
    assert row.split()[:4] == [str(server.incident_id), "active", "major", "dead-end"]
    assert row.endswith("Dead end is down")

    code, out, _ = run(server, capsys, "list", "--active", "--monitor", "dead-end", "--json")
    assert code == 0
    data = json.loads(out)
    assert [i["id"] for i in data["items"]] == [server.incident_id]
    code, out, _ = run(server, capsys, "list", "--monitor", "nothing", "--limit", "1")
    assert code == 0 and "(none)" in out

    code, out, _ = run(server, capsys, "show", str(server.incident_id))
    assert code == 0
    assert f"incident {server.incident_id}" in out and "Dead end is down" in out


def test_update_sets_and_clears(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    ident = str(server.incident_id)
    code, out, err = run(
        server,
        capsys,
        "update",
        ident,
        "--title",
        "Website unreachable",
        "--description",
        "The upstream host is down.",
        "--severity",
        "critical",
    )
    assert code == 0, err
    assert "Website unreachable" in out and "critical" in out
    assert "auto title:  Dead end is down" in out

    code, out, _ = run(server, capsys, "update", ident, "--clear-title", "--json")
    incident = json.loads(out)
    assert code == 0
    assert incident["public_title"] is None and incident["title"] == "Dead end is down"
    # Untouched flags leave their fields alone.
    assert incident["severity"] == "critical"
    assert incident["public_description"] == "The upstream host is down."

    code, out, _ = run(
        server, capsys, "update", ident, "--clear-severity", "--clear-description", "--json"
    )
    incident = json.loads(out)
    assert incident["severity"] == "major" and incident["public_description"] is None

    code, _, err = run(server, capsys, "update", ident)
    assert code == 2 and "nothing to change" in err


def test_post_updates(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    ident = str(server.incident_id)
    code, out, err = run(
        server, capsys, "post", ident, "--phase", "identified", "--message", "Upstream is down."
    )
    assert code == 0, err
    assert "identified" in out
    code, out, _ = run(server, capsys, "show", ident, "--json")
    detail = json.loads(out)
    assert detail["latest_update"]["message"] == "Upstream is down."
    assert detail["latest_update"]["created_by"] == "operator"  # the token's name
    assert detail["status"] == "active"  # "resolved" or not, checks drive the lifecycle
    code, out, _ = run(server, capsys, "show", ident)
    assert "Upstream is down." in out and "operator" in out


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["show", "999999"], "NOT_FOUND"),
        (["post", "{id}", "--phase", "fixed", "--message", "x"], "INVALID_PHASE"),
        (["post", "{id}", "--phase", "identified", "--message", "  "], "EMPTY_MESSAGE"),
        (["update", "{id}", "--title", "  "], "EMPTY_TITLE"),
        (["update", "{id}", "--title", "t" * 201], "TITLE_TOO_LONG"),
        (["update", "{id}", "--severity", "urgent"], "INVALID_SEVERITY"),
        (["list", "--limit", "500"], "VALIDATION_ERROR"),
    ],
)
def test_api_errors_exit_1_with_code_and_message(
    server: Server, capsys: pytest.CaptureFixture[str], argv: list[str], code: str
) -> None:
    argv = [a.replace("{id}", str(server.incident_id)) for a in argv]
    status, out, err = run(server, capsys, *argv)
    assert status == 1
    assert err.startswith(f"error: {code}: ") and out == ""


def test_bad_or_missing_token(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["incidents", "list", "--url", server.url, "--token", "upl_wrong"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: UNAUTHORIZED: ")


def test_environment_and_a_real_process(server: Server, tmp_path: Path) -> None:
    env = {**os.environ, "UPLIGHT_URL": server.url, "UPLIGHT_TOKEN": server.token}
    proc = subprocess.run(
        [*UPLIGHT, "incidents", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"][0]["id"] == server.incident_id
    env.pop("UPLIGHT_TOKEN")
    proc = subprocess.run(
        [*UPLIGHT, "incidents", "show", str(server.incident_id), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "NO_TOKEN"
    assert "error: NO_TOKEN:" in proc.stderr


def _seed_ended_incidents(database: Path, starts: list[dt.datetime]) -> None:
    """Ended incidents of a monitor the config no longer has, written before serving."""

    async def seed() -> None:
        async with build_store(database) as store:

            async def write(db: Any) -> None:
                for started in starts:
                    incident_id = await insert_incident(
                        db,
                        monitor_id="legacy",
                        monitor_name="Legacy",
                        severity="major",
                        started_at=started,
                        at=started,
                    )
                    await mark_ended(db, incident_id, started + dt.timedelta(hours=1))

            await store.write(write)

    asyncio.run(seed())


def test_list_filters_and_pages_with_a_cursor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    # A long interval: the only incidents are the seeded ones.
    config.write_text(_config(port).replace('interval = "1s"', 'interval = "1h"'))
    token = create_token(config, "operator")  # also creates the database
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    starts = [now - dt.timedelta(days=days) for days in (3, 2, 1)]
    _seed_ended_incidents(tmp_path / "uplight.db", starts)
    server = Server(f"http://127.0.0.1:{port}", token, 0)
    with serving(config, port):
        common = ("--monitor", "legacy")
        code, out, err = run(server, capsys, "list", "--ended", *common, "--limit", "2")
        assert code == 0, err
        header, first, second, hint = out.splitlines()
        assert header.split()[:2] == ["ID", "STATUS"]
        assert [first.split()[1], second.split()[1]] == ["ended", "ended"]
        newest = [int(first.split()[0]), int(second.split()[0])]
        match = re.fullmatch(r"\(more: repeat with --cursor (\S+) for the next page\)", hint)
        assert match, hint

        code, out, err = run(
            server, capsys, "list", "--ended", *common, "--limit", "2", "--cursor", match[1]
        )
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 2 and "--cursor" not in out  # the last page: no hint
        oldest = int(lines[1].split()[0])
        assert oldest not in newest and oldest < min(newest)

        code, out, _ = run(server, capsys, "list", "--active", *common)
        assert code == 0 and "(none)" in out
        # --since: only the incident still going an hour before the newest ended.
        since = (starts[-1] + dt.timedelta(minutes=30)).isoformat()
        code, out, _ = run(server, capsys, "list", *common, "--since", since, "--json")
        assert code == 0
        assert [i["id"] for i in json.loads(out)["items"]] == [newest[0]]

        code, out, err = run(server, capsys, "list", "--since", "yesterday")
        assert code == 1 and out == "" and err.startswith("error: ") and "since" in err
        code, _, err = run(server, capsys, "list", "--cursor", "nope")
        assert code == 1 and err.startswith("error: INVALID_CURSOR: ")
        with pytest.raises(SystemExit) as stopped:
            main(["incidents", "list", "--active", "--ended", "--url", server.url])
        assert stopped.value.code == 2


# -- manual incidents (last: they are the newest incidents of the shared server) ------


def test_open_and_resolve_a_manual_incident(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        server,
        capsys,
        "open",
        "--title",
        "ISP outage",
        "--description",
        "A fibre cut upstream.",
        "--severity",
        "major",
        "--component",
        "dead-end",
        "--page",
        "main",
        "--status",
        "partial_outage",
        "--phase",
        "identified",
        "--message",
        "The provider is on it.",
        "--json",
    )
    assert code == 0, err
    incident = json.loads(out)
    assert (incident["kind"], incident["component_ids"], incident["page"]) == (
        "manual",
        ["dead-end"],
        "main",
    )
    assert incident["latest_update"]["created_by"] == "operator"
    ident = str(incident["id"])

    code, out, _ = run(server, capsys, "show", ident)
    assert code == 0
    assert "kind:        manual" in out and "components:  dead-end" in out
    assert "shown as:    partial_outage" in out and "The provider is on it." in out
    code, out, _ = run(server, capsys, "list", "--active", "--monitor", "dead-end")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows[ident].split()[3] == "(manual)" and rows[ident].endswith("ISP outage")

    # The public page shows it, as the real server renders it.
    document = httpx.get(f"{server.url}/api/public/v1/status.json?page=main").json()
    assert "ISP outage" in [i["title"] for i in document["incidents"]["active"]]

    code, out, err = run(server, capsys, "resolve", ident, "--message", "Repaired.")
    assert code == 0, err
    assert "status:      ended" in out and "Repaired." in out
    code, out, err = run(server, capsys, "resolve", ident)
    assert code == 1 and err.startswith("error: INCIDENT_ENDED: ") and out == ""


def test_open_without_flags_and_its_refusals(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(server, capsys, "open", "--title", "Supplier outage", "--json")
    assert code == 0, err
    incident = json.loads(out)
    assert (incident["severity"], incident["component_ids"], incident["page"]) == (
        "minor",
        [],
        None,
    )
    code, out, err = run(server, capsys, "resolve", str(incident["id"]), "--json")
    assert code == 0, err
    assert json.loads(out)["updates"] == []  # no --message: no final update

    for argv, expected in [
        (["open", "--title", "x", "--component", "nope"], "INVALID_COMPONENT_ID"),
        (["open", "--title", "x", "--status", "down"], "INVALID_COMPONENT_STATUS"),
        (["open", "--title", "x", "--page", "nope"], "INVALID_PAGE"),
        (["open", "--title", " "], "EMPTY_TITLE"),
        (["resolve", "999999"], "NOT_FOUND"),
    ]:
        code, out, err = run(server, capsys, *argv)
        assert code == 1 and err.startswith(f"error: {expected}: ") and out == "", argv


def test_an_automatic_incident_cannot_be_resolved_from_the_cli(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(server, capsys, "resolve", str(server.incident_id), "--message", "x")
    assert code == 1 and out == ""
    assert err.startswith("error: INCIDENT_AUTOMATIC: ") and "recover" in err
    code, out, _ = run(server, capsys, "show", str(server.incident_id), "--json")
    assert json.loads(out)["status"] == "active"
