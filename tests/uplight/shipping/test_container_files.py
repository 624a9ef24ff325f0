"""The Dockerfile, compose.yaml and .dockerignore hold what the image promises:
a wheel built in one stage and installed in the next, a non-root user, the data
and config volumes, a health check without curl, a clean stop, and an entry
command that the built wheel really installs. No container engine needed."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from dockerfiles import REPO, Stage, healthcheck_command, parse
from helpers import free_port, serving

from uplight.config import load_config, parse_listen
from uplight.plugins import PluginRegistry

CONFIG_IN_IMAGE = "/config/config.toml"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse((REPO / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in instruction.words():
            name, _, value = word.partition("=")
            env[name] = value
    return env


def test_the_wheel_is_built_in_one_stage_and_installed_in_the_next(stages: list[Stage]) -> None:
    build, final = stages[0], stages[-1]
    assert len(stages) == 2 and build.name == "build"
    for stage in stages:
        assert stage.base.startswith("python:3.1") and stage.base.endswith("-slim"), stage.base
    assert any("pip wheel" in i.args for i in build.all("RUN"))
    (install,) = [i for i in final.all("RUN") if "pip install" in i.args]
    assert "from=build" in install.args and "--no-index" in install.args
    # Nothing of the build stage's tools or the source tree is copied into the image.
    assert not any("core" in i.args or "plugins/" in i.args for i in final.all("COPY"))


def test_the_image_installs_the_fast_extra(stages: list[Stage]) -> None:
    """uvloop's wheel is built beside uplight's and installed with it, so the
    container's server runs on uvloop (``event_loop = "auto"``)."""
    build, final = stages[0], stages[-1]
    (wheel,) = [i for i in build.all("RUN") if "pip wheel" in i.args]
    assert wheel.words()[-1] == ".[fast]"
    (install,) = [i for i in final.all("RUN") if "pip install" in i.args]
    words = install.words()
    assert "uplight[fast]" in words[: words.index("&&")]


def test_the_example_config_has_its_schema_beside_it(final: Stage) -> None:
    """config.example.toml's ``#:schema ./uplight.schema.json`` resolves in the image."""
    first = (REPO / "config.example.toml").read_text().splitlines()[0]
    assert first.startswith("#:schema ./")
    schema = first.removeprefix("#:schema ./")
    copied: dict[str, str] = {}
    for instruction in final.all("COPY"):
        *sources, target = instruction.words()
        for source in sources:
            copied[source] = target if not target.endswith("/") else target + Path(source).name
    example = Path(copied["config.example.toml"])
    assert copied[schema] == str(example.parent / schema)
    assert (REPO / schema).is_file()


def test_it_runs_as_a_user_that_is_not_root(final: Stage) -> None:
    user, _, group = final.last("USER").args.strip().partition(":")
    assert user not in ("root", "0", "") and group not in ("root", "0")
    # Numeric, so an orchestrator can tell it is not root without reading /etc/passwd;
    # the same ids as the account made for it, which owns /data, the one place it writes.
    (setup,) = [i for i in final.all("RUN") if "useradd" in i.args]
    assert f"--uid {user}" in setup.args and f"--gid {group}" in setup.args
    assert "chown uplight:uplight /data" in setup.args


def test_data_and_config_are_volumes(final: Stage) -> None:
    volumes = {v for i in final.all("VOLUME") for v in i.words()}
    assert {"/data", "/config"} <= volumes


def test_it_stops_on_sigterm_and_serves_the_config_in_config(final: Stage) -> None:
    assert final.last("STOPSIGNAL").args.strip() == "SIGTERM"
    command = final.last("ENTRYPOINT").words() + final.last("CMD").words()
    assert command == ["uplight", "serve", "--config", CONFIG_IN_IMAGE]
    assert _env(final)["UPLIGHT_CONFIG"] == CONFIG_IN_IMAGE  # `exec … uplight token …` too


def test_it_listens_on_every_interface_on_the_exposed_port(final: Stage) -> None:
    host, port = parse_listen(_env(final)["UPLIGHT_LISTEN"])
    assert host in ("0.0.0.0", "::")
    assert final.last("EXPOSE").words() == [str(port)]


def test_the_health_check_needs_no_curl(final: Stage) -> None:
    command = healthcheck_command(final)
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    assert not any(tool in " ".join(command) for tool in ("curl", "wget"))


def test_the_health_check_passes_against_a_server_and_fails_without_one(
    final: Stage, tmp_path: Path
) -> None:
    """The HEALTHCHECK's own code, run here against a real `uplight serve`."""
    code = healthcheck_command(final)[2]
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n[storage]\npath = "u.db"\n')
    env = {**os.environ, "UPLIGHT_LISTEN": f"127.0.0.1:{port}"}

    def probe() -> int:
        return subprocess.run([sys.executable, "-c", code], env=env, timeout=10).returncode

    with serving(config, port):
        assert probe() == 0
    assert probe() != 0  # stopped: unhealthy


def test_the_image_config_validates_and_keeps_the_database_in_data(
    final: Stage, registry: PluginRegistry
) -> None:
    copies = {i.words()[-1]: i.words()[0] for i in final.all("COPY")}
    source = REPO / copies[CONFIG_IN_IMAGE]
    config = load_config(source, registry.check_types, registry.notifiers)
    assert config.database_path == Path("/data/uplight.db")
    assert "listen" not in config.server.model_fields_set  # the image's variable decides
    # Its self-check asks the port the container listens on.
    _, port = parse_listen(_env(final)["UPLIGHT_LISTEN"])
    assert httpx.URL(str(config.monitors[0].options.url)).port == port


def test_compose_publishes_the_port_keeps_data_and_restarts(
    compose: dict[str, Any], final: Stage
) -> None:
    (service,) = compose["services"].values()
    assert service["build"] == "."
    assert service["restart"] == "unless-stopped"
    _, port = parse_listen(_env(final)["UPLIGHT_LISTEN"])
    assert any(str(p).endswith(f":{port}") for p in service["ports"])
    volumes = dict(v.split(":", 1) for v in service["volumes"])
    data_volume = next(k for k, v in volumes.items() if v == "/data")
    assert data_volume in compose["volumes"]  # a named volume, not the container's layer
    config_dir = next(k for k, v in volumes.items() if v.startswith("/config"))
    assert volumes[config_dir] == "/config:ro"
    assert (REPO / config_dir / "config.toml").is_file()


def test_dockerignore_keeps_local_state_out_but_not_the_sources(final: Stage) -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "test-output", "data", "**/__pycache__", ".pytest_cache"} <= ignored
    needed = {"pyproject.toml", "README.md", "core", "plugins", "contrib", "config.example.toml"}
    needed |= {"uplight.schema.json"}
    assert not needed & ignored


def test_the_entry_command_is_a_console_script_of_the_built_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("uplight-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        parsed = configparser.ConfigParser()
        parsed.read_string(archive.read(entry_points).decode())
    assert parsed["console_scripts"]["uplight"].strip() == "uplight.cli:main"
    assert "uplight/cli/__init__.py" in names
    assert "uplight_plugins/checks/http.py" in names  # the built-in plugins ship with it
