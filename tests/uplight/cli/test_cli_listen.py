"""`uplight serve --listen HOST:PORT` and `UPLIGHT_LISTEN`: one flag or variable moves
the server (and the public URL derived from its address), for a container, a port
clash or a second instance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from helpers import free_port, serving

from uplight.cli import main
from uplight.config import Config, ConfigError
from uplight.plugins import PluginRegistry
from uplight.web.reload import load_for_reload

PAGE = """
[[monitors]]
id = "manual"
name = "Manual"
type = "manual"
interval = "1m"
[[pages]]
slug = "main"
title = "Listen test"
[[pages.components]]
monitor = "manual"
"""


def test_the_address_replaces_listen_and_the_derived_public_url(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config('[server]\nlisten = "127.0.0.1:8080"\n')
    moved = config.with_listen("0.0.0.0:9000")
    assert (moved.server.host, moved.server.port) == ("0.0.0.0", 9000)
    # A wildcard address is nowhere to link to: the box itself is.
    assert moved.server.public_base_url == "http://127.0.0.1:9000"
    assert moved.server.listen_override == "0.0.0.0:9000"
    assert config.server.listen == "127.0.0.1:8080"  # the original is untouched
    assert config.server.listen_override is None

    ipv6 = config.with_listen("[::]:8081")
    assert (ipv6.server.host, ipv6.server.port) == ("::", 8081)
    assert ipv6.server.public_base_url == "http://127.0.0.1:8081"
    assert config.with_listen("[::1]:8082").server.public_base_url == "http://[::1]:8082"


def test_a_public_url_the_file_sets_is_kept(make_config: Callable[[str], Config]) -> None:
    config = make_config(
        '[server]\nlisten = "127.0.0.1:8080"\npublic_base_url = "https://status.example.org"\n'
    )
    moved = config.with_listen("0.0.0.0:9000").with_listen("0.0.0.0:9001")
    assert moved.server.public_base_url == "https://status.example.org"
    assert moved.server.port == 9001


def test_a_reload_keeps_the_address_given_at_start(
    tmp_path: Path, make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    running = make_config('[server]\nlisten = "127.0.0.1:8080"\n').with_listen("127.0.0.1:9000")
    path = tmp_path / "edited.toml"  # make_config writes config.toml
    path.write_text('[server]\nlisten = "127.0.0.1:8080"\n' + PAGE)
    reloaded = load_for_reload(path, registry, running)
    assert reloaded.server.listen == "127.0.0.1:9000"
    assert reloaded.server.public_base_url == "http://127.0.0.1:9000"
    assert len(reloaded.monitors) == 1

    # Without the flag, a file that moves the port is still refused.
    with pytest.raises(ConfigError, match=r"server\.listen: changed"):
        load_for_reload(path, registry, make_config('[server]\nlisten = "127.0.0.1:8081"\n'))


@pytest.mark.parametrize("value", ["8080", "localhost", "127.0.0.1:0", "::1:8080", "h:99999"])
def test_a_bad_flag_is_a_usage_error_naming_it(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--config", "nowhere.toml", "--listen", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --listen" in err and 'must be "host:port"' in err


def test_a_bad_variable_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPLIGHT_LISTEN", "all-interfaces")
    assert main(["serve", "--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: UPLIGHT_LISTEN='all-interfaces': must be")


def _write(tmp_path: Path, listen: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[server]\nlisten = "{listen}"\n[storage]\npath = "db/uplight.db"\n' + PAGE)
    return path


def test_serve_listens_where_the_flag_says(tmp_path: Path) -> None:
    port = free_port()
    config = _write(tmp_path, f"127.0.0.1:{free_port()}")  # not where it will listen
    with serving(config, port, args=["--listen", f"127.0.0.1:{port}"]):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        status = httpx.get(f"http://127.0.0.1:{port}/api/public/v1/status.json", timeout=5)
        assert status.json()["page"]["url"].startswith(f"http://127.0.0.1:{port}/")


def test_the_flag_wins_over_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("UPLIGHT_LISTEN", "not an address")  # never read: the flag is given
    config = _write(tmp_path, f"127.0.0.1:{free_port()}")
    with serving(config, port, args=["--listen", f"127.0.0.1:{port}"]):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


def test_serve_listens_where_the_variable_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("UPLIGHT_LISTEN", f"127.0.0.1:{port}")
    config = _write(tmp_path, f"127.0.0.1:{free_port()}")
    with serving(config, port):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
