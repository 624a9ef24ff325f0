"""`uplight components …` against a real `uplight serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
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
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
"""


@dataclass
class Server:
    url: str
    token: str
    config: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-components")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port, dead=free_port()))
    token = create_token(config, "cli")
    with serving(config, port):
        yield Server(f"http://127.0.0.1:{port}", token, config)


@pytest.fixture
def page(server: Server) -> Iterator[str]:
    """A fresh API-created page for each test."""
    slug = f"ops-{time.monotonic_ns()}"
    headers = {"Authorization": f"Bearer {server.token}"}
    created = httpx.post(
        f"{server.url}/api/v1/status-pages", json={"slug": slug, "title": "Ops"}, headers=headers
    )
    assert created.status_code == 201, created.text
    yield slug
    httpx.delete(f"{server.url}/api/v1/status-pages/{slug}", headers=headers)


def run(capsys: pytest.CaptureFixture[str], server: Server, *args: str) -> tuple[int, str, str]:
    code = main(["components", *args, "--url", server.url, "--token", server.token])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], server: Server, *args: str) -> object:
    code, out, err = run(capsys, server, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_add_list_reorder_update_remove(capsys, server: Server, page: str) -> None:
    code, out, err = run(
        capsys,
        server,
        "add",
        "--page",
        page,
        "--monitor",
        "db",
        "--name",
        "Our DB",
        "--group",
        "Data",
    )
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split() == ["TARGET_ID", "NAME", "GROUP", "SORT_ORDER", "PUBLIC_ID"]
    assert row.split()[:5] == ["db", "Our", "DB", "Data", "1"]

    # Adding again is a no-op that still succeeds.
    again = run_json(capsys, server, "add", "--page", page, "--monitor", "db", "--name", "Other")
    assert again["public_name"] == "Our DB"  # type: ignore[index]
    web = run_json(capsys, server, "add", "--page", page, "--monitor", "web")
    assert web["sort_order"] == 2 and web["name"] == "Web server"  # type: ignore[index]

    listed = run_json(capsys, server, "list", "--page", page)
    assert [c["target_id"] for c in listed] == ["db", "web"]  # type: ignore[union-attr]

    code, out, _ = run(capsys, server, "reorder", "--page", page, "web", "db")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["web", "db"]

    updated = run_json(
        capsys,
        server,
        "update",
        "--page",
        page,
        "--monitor",
        "db",
        "--clear-name",
        "--sort-order",
        "9",
    )
    assert updated["public_name"] is None and updated["name"] == "Database"  # type: ignore[index]
    assert updated["public_group"] == "Data" and updated["sort_order"] == 9  # type: ignore[index]
    cleared = run_json(capsys, server, "update", "--page", page, "--monitor", "db", "--clear-group")
    assert cleared["public_group"] is None  # type: ignore[index]

    code, out, _ = run(capsys, server, "remove", "--page", page, "--monitor", "web")
    assert code == 0 and "removed web" in out
    listed = run_json(capsys, server, "list", "--page", page)
    assert [c["target_id"] for c in listed] == ["db"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["add", "--page", "main", "--monitor", "db"], "PROVISIONED"),
        (["add", "--page", "{page}", "--monitor", "nope"], "INVALID_COMPONENT_ID"),
        (["add", "--page", "{page}", "--monitor", "db", "--name", " "], "EMPTY_NAME"),
        (["remove", "--page", "{page}", "--monitor", "web"], "NOT_FOUND"),
        (["list", "--page", "no-such-page"], "NOT_FOUND"),
        (["reorder", "--page", "main", "web"], "PROVISIONED"),
        (["reorder", "--page", "{page}", "db"], "INVALID_COMPONENT_ID"),
    ],
)
def test_api_errors_exit_1_with_code_and_message(
    capsys, server: Server, page: str, args: list[str], code: str
) -> None:
    args = [a.replace("{page}", page) for a in args]
    status, out, err = run(capsys, server, *args)
    assert status == 1 and out == ""
    assert err.startswith(f"error: {code}: ") and len(err.strip()) > len(f"error: {code}: ")
    status, out, _ = run(capsys, server, *args, "--json")
    assert status == 1 and json.loads(out)["error"]["code"] == code


def test_update_without_changes_is_a_usage_error(capsys, server: Server, page: str) -> None:
    status, _, err = run(capsys, server, "update", "--page", page, "--monitor", "db")
    assert status == 2 and "nothing to change" in err
    with pytest.raises(SystemExit):
        main(
            [
                "components",
                "update",
                "--page",
                page,
                "--monitor",
                "db",
                "--name",
                "x",
                "--clear-name",
            ]
        )


def test_token_and_url_from_the_environment(capsys, monkeypatch, server: Server) -> None:
    monkeypatch.setenv("UPLIGHT_URL", server.url)
    monkeypatch.setenv("UPLIGHT_TOKEN", server.token)
    assert main(["components", "list", "--page", "main"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:3] == ["web", "Web", "server"]
    monkeypatch.setenv("UPLIGHT_TOKEN", "upl_wrong")
    assert main(["components", "list", "--page", "main"]) == 1
    assert "error: UNAUTHORIZED" in capsys.readouterr().err
    monkeypatch.delenv("UPLIGHT_TOKEN")
    assert main(["components", "list", "--page", "main"]) == 1
    assert "error: NO_TOKEN" in capsys.readouterr().err


def test_the_installed_command(server: Server) -> None:
    done = subprocess.run(
        [*UPLIGHT, "components", "list", "--page", "main", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "UPLIGHT_URL": server.url, "UPLIGHT_TOKEN": server.token},
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert [c["target_id"] for c in json.loads(done.stdout)] == ["web"]
