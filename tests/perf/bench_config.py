"""``uplight check-config`` on a generated config of many monitors, against reading the
same file with ``tomllib`` alone in the same run.

The config has 10,000 HTTP monitors (1,000 with ``--quick``), a default notification
channel, and one page with all but 1 % of them (those get the "on no page" warning).
The command runs in process, as ``uplight check-config PATH``, with its output
discarded; plugin loading and the database path check are part of what is timed.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import tomllib
from pathlib import Path

from uplight.cli import main as uplight_main

from .common import Comparison

MONITORS = 10_000


def generate(path: Path, monitors: int) -> None:
    lines = [
        "[storage]",
        f'path = "{path.parent / "uplight.db"}"',
        "[defaults]",
        'notify = ["hook"]',
        "[[notifiers]]",
        'id = "hook"',
        'type = "webhook"',
        'url = "http://127.0.0.1:9/hook"',
    ]
    for i in range(monitors):
        lines += [
            "[[monitors]]",
            f'id = "m{i}"',
            f'name = "Monitor {i}"',
            'type = "http"',
            'interval = "60s"',
            f'url = "http://127.0.0.1:9/m{i}"',
        ]
    lines += ["[[pages]]", 'slug = "main"', 'title = "Everything"']
    for i in range(monitors):
        if i % 100:  # one in a hundred on no page: check-config warns about those
            lines += ["[[pages.components]]", f'monitor = "m{i}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_config(path: Path) -> float:
    """Seconds for one ``uplight check-config``; it must say OK."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = uplight_main(["check-config", str(path)])
    elapsed = time.perf_counter() - started
    if code != 0 or ": OK:" not in out.getvalue():
        raise RuntimeError(f"check-config failed ({code}): {err.getvalue()[:500]}")
    return elapsed


def parse_only(path: Path) -> float:
    started = time.perf_counter()
    tomllib.loads(path.read_text(encoding="utf-8"))
    return time.perf_counter() - started


def run(quick: bool = False) -> Comparison:
    monitors = 1_000 if quick else MONITORS
    repeats = 2 if quick else 3
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        path = Path(tmp) / "config.toml"
        generate(path, monitors)
        check_config(path)  # warm: imports and plugin loading happen once per process
        uplight_times = [check_config(path) for _ in range(repeats)]
        bare_times = [parse_only(path) for _ in range(repeats)]
    best, bare = min(uplight_times), min(bare_times)
    return Comparison(
        name="check-config",
        unit="ms",
        uplight=best * 1000,
        bare=bare * 1000,
        lower_is_better=True,
        notes=(
            f"{monitors:,} http monitors, one page with 99 % of them, a default channel;"
            f" best of {repeats}",
            "uplight: `uplight check-config PATH` in process (validation, plugins,"
            " cross-checks, warnings)",
            "bare: tomllib.loads of the same file",
            "uplight runs (ms): " + ", ".join(f"{t * 1000:.0f}" for t in uplight_times),
            "bare runs (ms):    " + ", ".join(f"{t * 1000:.0f}" for t in bare_times),
        ),
    )
