"""The image itself: built, run, asked /healthz and /status, stopped with SIGTERM.

Needs a working container engine (docker or podman) and the Dockerfile's base
image already present locally (the build downloads uplight's dependencies, not
the base image); otherwise the test is skipped, and the skip says which was
missing (`make test` prints skip reasons).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest
from dockerfiles import REPO, parse
from helpers import wait_until

ENGINES = ("docker", "podman")
HTML = {"Accept": "text/html"}


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _engine() -> str:
    """The first engine that answers ``info``; else skip, saying why for each."""
    reasons = []
    for name in ENGINES:
        if shutil.which(name) is None:
            reasons.append(f"{name} is not installed")
            continue
        try:
            info = _run(name, "info", timeout=30)
        except subprocess.TimeoutExpired:
            reasons.append(f"`{name} info` did not answer in 30 s")
            continue
        if info.returncode == 0:
            return name
        reasons.append(f"`{name} info` failed: {_last_line(info.stderr)}")
    pytest.skip("no container engine to build the image with: " + "; ".join(reasons))


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[str, str]]:
    engine = _engine()
    stages = parse((REPO / "Dockerfile").read_text())
    for base in sorted({stage.base for stage in stages}):
        if _run(engine, "image", "inspect", base).returncode != 0:
            pytest.skip(f"the base image {base} is not present locally ({engine} pull {base})")
    tag = f"uplight-test:{uuid.uuid4().hex[:12]}"
    build = _run(engine, "build", "--tag", tag, str(REPO), timeout=1200)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    try:
        yield engine, tag
    finally:
        _run(engine, "image", "rm", "--force", tag)


@pytest.mark.timeout(1500)
def test_the_image_serves_health_and_the_page_and_stops_cleanly(
    image: tuple[str, str],
) -> None:
    engine, tag = image
    name = f"uplight-test-{uuid.uuid4().hex[:12]}"
    started = _run(engine, "run", "--detach", "--name", name, "--publish", "127.0.0.1::8080", tag)
    assert started.returncode == 0, started.stderr
    try:
        address = _last_line(_run(engine, "port", name, "8080/tcp").stdout)
        base = f"http://{address.replace('0.0.0.0', '127.0.0.1')}"
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, 90)
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        page = httpx.get(f"{base}/status", headers=HTML, timeout=10)
        assert page.status_code == 200 and "Status" in page.text
        assert _run(engine, "exec", name, "id", "-u").stdout.strip() != "0"
        schema = "/usr/share/doc/uplight/uplight.schema.json"  # config.example.toml's
        assert _run(engine, "exec", name, "test", "-s", schema).returncode == 0

        stopped = _run(engine, "stop", "--time", "20", name, timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        code = _run(engine, "inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        logs = _run(engine, "logs", name)
        assert code == "0", logs.stdout + logs.stderr
        assert "Traceback" not in logs.stderr
        assert "(event loop: uvloop" in logs.stdout + logs.stderr  # the fast extra
    finally:
        _run(engine, "rm", "--force", name)
