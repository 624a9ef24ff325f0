"""`uplight token create|list|revoke`, and that a revoked token stops working."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from helpers import UPLIGHT, create_token, free_port, serving
from postgres import storage_toml

from uplight.cli import main


def _config(tmp_path: Path, location: Path | str, port: int | None = None) -> Path:
    """A config whose database is ``location``: the tests run on SQLite and PostgreSQL."""
    port = port or free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
{storage_toml(location)}
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:{free_port()}/"
interval = "1h"
timeout = "1s"
"""
    )
    return config


def token(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["token", *argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_prints_only_the_token(tmp_path: Path, db_location: Path | str) -> None:
    config = _config(tmp_path, db_location)
    proc = subprocess.run(
        [*UPLIGHT, "token", "create", "--name", "alice", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    # stdout is the token and nothing else, so `TOKEN=$(uplight token create …)` works.
    assert re.fullmatch(r"upl_\S+\n", proc.stdout), proc.stdout
    assert "shown only this once" in proc.stderr and proc.stdout.strip() not in proc.stderr


def test_duplicate_name_exits_1(
    tmp_path: Path, db_location: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, db_location)
    assert token(capsys, config, "create", "--name", "alice")[0] == 0
    code, out, err = token(capsys, config, "create", "--name", "alice")
    assert code == 1 and out == ""
    assert "a token named 'alice' exists" in err


def test_list_table_and_json_never_show_tokens(
    tmp_path: Path, db_location: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, db_location)
    code, out, _ = token(capsys, config, "list")
    assert code == 0 and out.splitlines() == ["NAME  CREATED_AT", "(none)"]
    secrets = [token(capsys, config, "create", "--name", name)[1].strip() for name in ("b", "a")]

    code, out, _ = token(capsys, config, "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "CREATED_AT"]
    assert [row.split()[0] for row in rows] == ["a", "b"]  # by name

    code, out, _ = token(capsys, config, "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [t["name"] for t in listed] == ["a", "b"]
    assert all(
        set(t) == {"name", "created_at", "probe_location"} and t["created_at"] for t in listed
    )
    assert not any(secret in out for secret in secrets)


def test_revoke_and_revoke_unknown(
    tmp_path: Path, db_location: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, db_location)
    token(capsys, config, "create", "--name", "alice")
    token(capsys, config, "create", "--name", "bob")
    code, out, err = token(capsys, config, "revoke", "alice")
    assert code == 0 and out.strip() == "token 'alice' revoked", err
    code, out, _ = token(capsys, config, "list", "--json")
    assert [t["name"] for t in json.loads(out)] == ["bob"]

    code, out, err = token(capsys, config, "revoke", "alice")  # already gone
    assert code == 1 and out == "" and "no token named 'alice'" in err
    code, out, err = token(capsys, config, "revoke", "nobody")
    assert code == 1 and "no token named 'nobody'" in err
    # The name is free again.
    assert token(capsys, config, "create", "--name", "alice")[0] == 0


def test_a_revoked_token_gets_401_from_a_running_server(
    tmp_path: Path, db_location: Path | str
) -> None:
    port = free_port()
    config = _config(tmp_path, db_location, port)
    alice, bob = create_token(config, "alice"), create_token(config, "bob")
    url = f"http://127.0.0.1:{port}/api/v1/incidents"
    with serving(config, port):
        for secret in (alice, bob):
            response = httpx.get(url, headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 200, response.text
        # Revoked while the server runs (the CLI writes the database directly).
        proc = subprocess.run(
            [*UPLIGHT, "token", "revoke", "alice", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        response = httpx.get(url, headers={"Authorization": f"Bearer {alice}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        response = httpx.get(url, headers={"Authorization": f"Bearer {bob}"})
        assert response.status_code == 200  # the other token still works


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("", "1 to 100 characters"), ("x" * 101, "1 to 100"), ("ops\u202eevil", "U+202E")],
)
def test_a_name_the_console_could_not_show_is_refused(
    tmp_path: Path,
    db_location: Path | str,
    capsys: pytest.CaptureFixture[str],
    name: str,
    fragment: str,
) -> None:
    config = _config(tmp_path, db_location)
    code, out, err = token(capsys, config, "create", "--name", name)
    assert code == 1 and out == ""
    assert err.startswith("error: --name ") and fragment in err
    assert token(capsys, config, "list", "--json")[1].strip() == "[]"
