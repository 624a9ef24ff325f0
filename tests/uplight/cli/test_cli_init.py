"""`uplight init [PATH]`: a starter config that validates, serves, and never overwrites."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers import free_port, serving
from servers import HttpServer, Route

from uplight.cli import main
from uplight.cli.init import monitor_id
from uplight.config import Config, load_config
from uplight.plugins import PluginRegistry


def _load(path: Path, registry: PluginRegistry) -> Config:
    return load_config(path, registry.check_types, registry.notifiers)


def test_writes_a_valid_config_and_prints_the_next_command(
    tmp_path: Path, registry: PluginRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "etc" / "uplight.toml"  # a folder that does not exist yet
    code = main(
        [
            "init",
            str(path),
            "--title",
            'Homelab "status"',
            "--listen",
            "[::1]:9090",
            "--monitor",
            "https://nas.home.arpa/",
            "--monitor",
            "http://NAS.home.arpa:8080/health",
            "--monitor",
            "https://example.org/",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"  uplight serve --config {path}"

    config = _load(path, registry)
    assert config.server.listen == "[::1]:9090"
    assert [(m.id, m.type) for m in config.monitors] == [
        ("nas-home-arpa", "http"),
        ("nas-home-arpa-2", "http"),
        ("example-org", "http"),
    ]
    assert str(config.monitors[1].options.url) == "http://NAS.home.arpa:8080/health"
    (page,) = config.pages
    assert page.title == 'Homelab "status"'
    assert [c.monitor for c in page.components] == [m.id for m in config.monitors]
    assert "# " in path.read_text()  # commented: the options are explained in place


def test_never_overwrites_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    assert main(["init", str(path), "--monitor", "https://example.org/"]) == 1
    assert path.read_text() == "# mine\n"
    assert f"{path} already exists: not overwritten" in capsys.readouterr().err


def test_the_default_path_is_uplight_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPLIGHT_CONFIG", "chosen.toml")
    assert main(["init"]) == 0
    assert len(_load(tmp_path / "chosen.toml", registry).monitors) == 0
    monkeypatch.delenv("UPLIGHT_CONFIG")
    assert main(["init"]) == 0
    assert (tmp_path / "config.toml").exists()


@pytest.mark.parametrize(
    "url", ["nas.home.arpa", "ftp://nas.home.arpa/", "https://", "http://x:99999/", "http://a b/"]
)
def test_a_bad_monitor_url_is_a_usage_error_naming_the_option(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["init", str(tmp_path / "config.toml"), "--monitor", url])
    assert exit_.value.code == 2
    assert "argument --monitor" in capsys.readouterr().err
    assert not (tmp_path / "config.toml").exists()


def test_a_title_the_page_refuses_names_the_option_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    assert main(["init", str(path), "--title", "x" * 201, "--monitor", "https://a.example/"]) == 1
    err = capsys.readouterr().err
    assert "error: --title: must be at most 200 characters" in err
    assert not path.exists()


def test_a_bad_listen_address_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["init", str(tmp_path / "config.toml"), "--listen", "8080"])
    assert "argument --listen" in capsys.readouterr().err


def test_ids_are_unique_and_valid() -> None:
    taken: set[str] = set()
    ids = [
        monitor_id(url, taken)
        for url in ("https://a.example/", "https://A.example:8443/", "http://[::1]/", "http://-/")
    ]
    assert ids == ["a-example", "a-example-2", "1", "monitor"]
    long = monitor_id("https://" + "x" * 80 + ".example/", taken)
    assert len(long) <= 60 and not long.endswith("-")


def test_the_written_config_serves_its_page(tmp_path: Path) -> None:
    port = free_port()
    with HttpServer({"/": Route(body="hello")}) as target:
        path = tmp_path / "config.toml"
        args = ["init", str(path), "--title", "Init test", "--listen", f"127.0.0.1:{port}"]
        assert main([*args, "--monitor", target.url("/")]) == 0
        with serving(path, port):
            page = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=5)
            assert page.status_code == 200
            assert "Init test" in page.text and "127.0.0.1" in page.text
