"""`uplight maintenance …` against a real `uplight serve` process."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import UPLIGHT, create_token, free_port, serving

from uplight.cli import main

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "uplight.db"
[[monitors]]
id = "web"
name = "Web server"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "1h"
timeout = "1s"
[[maintenance]]
id = "backups"
title = "Nightly backups"
components = ["db"]
duration = "30m"
cron = "0 3 * * *"
timezone = "Europe/Berlin"
"""


@dataclass
class Server:
    url: str
    token: str
    config: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-maintenance")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port, dead=free_port()))
    token = create_token(config, "operator")
    with serving(config, port):
        yield Server(f"http://127.0.0.1:{port}", token, config)


def run(capsys: pytest.CaptureFixture[str], server: Server, *args: str) -> tuple[int, str, str]:
    code = main(["maintenance", *args, "--url", server.url, "--token", server.token])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], server: Server, *args: str) -> Any:
    code, out, err = run(capsys, server, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def iso(hours: float) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_schedule_list_update_cancel(capsys, server: Server) -> None:
    code, out, err = run(
        capsys,
        server,
        "schedule",
        "--title",
        "Database upgrade",
        "--description",
        "to v16",
        "--severity",
        "warning",
        "--starts-at",
        iso(48),
        "--ends-at",
        iso(50),
        "--component",
        "web",
        "--component",
        "db",
    )
    assert code == 0, err
    fields = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    assert fields["title"] == "Database upgrade" and fields["status"] == "scheduled"
    assert fields["component_ids"] == "web, db" and fields["created_by"] == "operator"
    window_id = fields["id"]

    code, out, _ = run(capsys, server, "list")
    header, *rows = out.splitlines()
    assert header.split() == [
        "ID",
        "STATUS",
        "SEVERITY",
        "STARTS_AT",
        "ENDS_AT",
        "COMPONENTS",
        "TITLE",
    ]
    assert any(row.split()[:3] == [window_id, "scheduled", "warning"] for row in rows)
    assert any("web,db" in row and "Database upgrade" in row for row in rows)

    upcoming = run_json(capsys, server, "list", "--status", "upcoming", "--limit", "200")
    assert window_id in [str(w["id"]) for w in upcoming]
    assert {w["status"] for w in upcoming} == {"scheduled"}

    changed = run_json(
        capsys,
        server,
        "update",
        window_id,
        "--title",
        "Database upgrade, part 1",
        "--clear-description",
        "--component",
        "db",
    )
    assert changed["title"] == "Database upgrade, part 1"
    assert changed["description"] is None and changed["component_ids"] == ["db"]
    assert changed["severity"] == "warning"  # unset flags stay

    code, _, err = run(capsys, server, "update", window_id)
    assert code == 2 and "nothing to change" in err

    cancelled = run_json(capsys, server, "cancel", window_id)
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    renamed = run_json(capsys, server, "update", window_id, "--title", "[cancelled] again")
    assert renamed["title"] == "[cancelled] again" and renamed["status"] == "cancelled"
    code, out, err = run(capsys, server, "update", window_id, "--severity", "critical")
    assert code == 1 and out == ""
    assert err.startswith("error: MAINTENANCE_CANCELLED: severity: ")
    shown = run_json(capsys, server, "show", window_id)
    assert shown["status"] == "cancelled"  # the row stays


def test_complete_and_purge(capsys, server: Server) -> None:
    started = run_json(
        capsys,
        server,
        "schedule",
        "--title",
        "Router swap",
        "--starts-at",
        iso(-1),
        "--ends-at",
        iso(1),
        "--component",
        "web",
    )
    assert started["status"] == "active"  # a start in the past begins at once
    window_id = str(started["id"])
    done = run_json(capsys, server, "complete", window_id)
    assert done["status"] == "completed" and done["completed_at"]
    assert done["ends_at"] == started["ends_at"]

    code, out, err = run(capsys, server, "purge", window_id)
    assert code == 0 and out.strip() == f"maintenance window {window_id} purged", err
    code, out, err = run(capsys, server, "show", window_id, "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "NOT_FOUND"
    assert err.startswith("error: NOT_FOUND: ")


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (["--starts-at", iso(5), "--ends-at", iso(4)], "INVALID_TIME_RANGE"),
        (["--starts-at", iso(5), "--ends-at", iso(24 * 31 + 5)], "INVALID_DURATION"),
        (
            ["--starts-at", iso(5), "--ends-at", iso(6), "--component", "nope"],
            "INVALID_COMPONENT_ID",
        ),
        (["--starts-at", iso(5), "--ends-at", iso(6), "--severity", "major"], "INVALID_SEVERITY"),
        # --duration is the client's arithmetic; the server's limits still hold.
        (["--starts-at", iso(5), "--duration", "31d"], "INVALID_DURATION"),
    ],
)
def test_errors_show_the_api_code(capsys, server: Server, flags: list[str], code: str) -> None:
    status, out, err = run(capsys, server, "schedule", "--title", "Bad", *flags)
    assert status == 1 and out == ""
    assert err.startswith(f"error: {code}: ")
    status, out, _ = run(capsys, server, "schedule", "--title", " ", *flags[:4], "--json")
    assert status == 1 and json.loads(out)["error"]["code"] == "EMPTY_TITLE"


def test_config_windows_are_listed(capsys, server: Server) -> None:
    windows = run_json(capsys, server, "list", "--limit", "200")
    from_config = [w for w in windows if w["source"] == "config"]
    assert from_config and {w["created_by"] for w in from_config} == {"config"}
    assert {w["title"] for w in from_config} == {"Nightly backups"}


def test_tokens_and_environment(capsys, server: Server) -> None:
    code = main(["maintenance", "list", "--url", server.url, "--token", "upl_wrong"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: UNAUTHORIZED: ")
    # The installed command, configured through the environment.
    proc = subprocess.run(
        [*UPLIGHT, "maintenance", "list", "--status", "scheduled", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "UPLIGHT_URL": server.url, "UPLIGHT_TOKEN": server.token},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)
    proc = subprocess.run(
        [*UPLIGHT, "maintenance", "list"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "UPLIGHT_TOKEN"}
        | {"UPLIGHT_URL": server.url},
        timeout=30,
    )
    assert proc.returncode == 1 and proc.stderr.startswith("error: NO_TOKEN: ")


def test_list_pages_with_a_cursor(capsys, server: Server) -> None:
    """Issue 10, point 14: the same paging flags as `incidents list`."""
    everything = run_json(capsys, server, "list", "--status", "upcoming", "--limit", "200")
    assert len(everything) >= 3  # the config's nightly windows, at least
    starts = [w["starts_at"] for w in everything]
    assert starts == sorted(starts)  # upcoming: soonest first

    seen: list[str] = []
    cursor: list[str] = []
    while True:
        code, out, err = run(
            capsys, server, "list", "--status", "upcoming", "--limit", "2", *cursor
        )
        assert code == 0, err
        _, *lines = out.splitlines()
        hint = lines[-1] if lines and lines[-1].startswith("(more:") else None
        seen += [line.split()[0] for line in lines if line != hint]
        if hint is None:
            break
        match = re.fullmatch(r"\(more: repeat with --cursor (\S+) for the next page\)", hint)
        assert match, hint
        cursor = ["--cursor", match[1]]
    assert seen == [str(w["id"]) for w in everything]

    # --json keeps stdout the list; the next position goes to stderr.
    code, out, err = run(capsys, server, "list", "--status", "upcoming", "--limit", "1", "--json")
    assert code == 0 and [w["id"] for w in json.loads(out)] == [everything[0]["id"]]
    assert re.fullmatch(r"next cursor: \S+\n", err), err

    code, _, err = run(capsys, server, "list", "--cursor", "nope")
    assert code == 1 and err.startswith("error: INVALID_CURSOR: cursor: ")


# -- issue 15: --starts-at now, local times, --duration ------------------------------


def _wire(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_now_for_an_hour(capsys, server: Server) -> None:
    window = run_json(
        capsys, server, "schedule", "--title", "Reboot", "--starts-at", "now", "--duration", "1h"
    )
    starts, ends = _wire(window["starts_at"]), _wire(window["ends_at"])
    assert ends - starts == dt.timedelta(hours=1)
    # "now" is the moment the command ran: by the server's own clock, within a second.
    assert abs(starts - _wire(window["created_at"])) < dt.timedelta(seconds=1)
    assert window["status"] == "active"
    run_json(capsys, server, "purge", str(window["id"]))


def test_local_time_in_a_named_zone(capsys, server: Server) -> None:
    window = run_json(
        capsys,
        server,
        "schedule",
        "--title",
        "Winter patching",
        "--starts-at",
        "2030-01-05T03:00",
        "--tz",
        "Europe/Berlin",
        "--duration",
        "1h30m",
    )
    assert window["starts_at"] == "2030-01-05T02:00:00Z"  # CET is UTC+1
    assert window["ends_at"] == "2030-01-05T03:30:00Z"
    moved = run_json(
        capsys, server, "update", str(window["id"]), "--ends-at", "2030-01-05 06:00", "--tz", "UTC"
    )
    assert moved["ends_at"] == "2030-01-05T06:00:00Z"
    run_json(capsys, server, "purge", str(window["id"]))


def test_local_time_in_the_machines_zone(capsys, server: Server) -> None:
    """The installed command, in a process whose zone is New York (EST, UTC-5)."""
    flags = ["--title", "Local", "--json", "--starts-at", "2030-01-05T03:00", "--duration", "1h"]
    proc = subprocess.run(
        [*UPLIGHT, "maintenance", "schedule", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "America/New_York"}
        | {"UPLIGHT_URL": server.url, "UPLIGHT_TOKEN": server.token},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    window = json.loads(proc.stdout)
    assert (window["starts_at"], window["ends_at"]) == (
        "2030-01-05T08:00:00Z",
        "2030-01-05T09:00:00Z",
    )
    run_json(capsys, server, "purge", str(window["id"]))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--starts-at", "now", "--duration", "1x"], "--duration: invalid duration '1x'"),
        (["--starts-at", "now", "--duration", "90"], "--duration: invalid duration '90'"),
        (["--starts-at", "now", "--duration", "0s"], "--duration: must be more than 0s"),
        (["--starts-at", "now", "--duration", "400d"], "--duration: must be at most 365d"),
        (["--starts-at", "soon", "--duration", "1h"], "--starts-at: 'soon' is not a time"),
        (["--starts-at", "now", "--ends-at", "later"], "--ends-at: 'later' is not a time"),
        (
            ["--starts-at", "2030-01-05T03:00", "--tz", "Mars/Olympus", "--duration", "1h"],
            "--tz: unknown time zone 'Mars/Olympus'",
        ),
        (
            ["--starts-at", "2030-03-31T02:30", "--tz", "Europe/Berlin", "--duration", "1h"],
            "--starts-at: 2030-03-31 02:30 does not exist in Europe/Berlin",
        ),
        (
            ["--starts-at", "2030-10-27T02:30", "--tz", "Europe/Berlin", "--duration", "1h"],
            "--starts-at: 2030-10-27 02:30 happens twice in Europe/Berlin",
        ),
    ],
)
def test_bad_times_name_the_flag(capsys, server: Server, flags: list[str], message: str) -> None:
    code, out, err = run(capsys, server, "schedule", "--title", "Bad", *flags)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {message}"), err


def test_duration_or_ends_at_not_both(capsys, server: Server) -> None:
    for flags in (
        ["--starts-at", "now", "--ends-at", iso(1), "--duration", "1h"],
        ["--starts-at", "now"],
    ):
        with pytest.raises(SystemExit) as exc:
            run(capsys, server, "schedule", "--title", "Bad", *flags)
        assert exc.value.code == 2
        assert "--ends-at" in capsys.readouterr().err
