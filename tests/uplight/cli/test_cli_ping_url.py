"""`uplight monitors ping-url ID`: the URL a crontab line pings, from the config alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from uplight.cli import main

TOKEN = "f3b1c2d4e5a6978812345678"
CONFIG = """
[server]
public_base_url = "https://status.example.org/"

[[monitors]]
id = "backup"
name = "Backup"
type = "push"
token = { env = "BACKUP_PING_TOKEN" }
period = "1d"

[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKUP_PING_TOKEN", TOKEN)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_prints_the_ping_url(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitors", "ping-url", "backup", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"https://status.example.org/ping/{TOKEN}\n"


@pytest.mark.parametrize(
    ("monitor", "words"),
    [("nope", "no monitor 'nope'"), ("web", "'web' is a 'http' monitor")],
)
def test_only_push_monitors_have_one(
    config: Path, capsys: pytest.CaptureFixture[str], monitor: str, words: str
) -> None:
    assert main(["monitors", "ping-url", monitor, "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err and TOKEN not in captured.err
