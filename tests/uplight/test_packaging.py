"""A non-editable install (a built wheel) has both packages, the entry points and data."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
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
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("uplight-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "uplight/__init__.py" in names
    assert "uplight_plugins/checks/http.py" in names
    assert "uplight_plugins/renderers/templates/status.html" in names
    assert not any(n.startswith(("core/", "plugins/", "tests/")) for n in names)

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # Run from the installed copy only: the wheel's site dir first, not the source tree.
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import uplight, uplight_plugins; "
        "from uplight.plugins import load_plugins; "
        "r = load_plugins(builtins_only=True); "
        "print(uplight.__file__); print(uplight_plugins.__file__); print(sorted(r.check_types))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(target)) and out[1].startswith(str(target))
    assert "http" in out[2]
    script = subprocess.run(
        [sys.executable, "-m", "uplight", "--version"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert script.stdout.startswith("uplight ")
