"""Small helpers for tests: free ports, a fake check type, waiting for conditions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """The blocking twin of ``wait_for``, for tests that drive a real server process:
    HTTP and SQLite errors mean "not yet" (the server may still be starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, sqlite3.Error):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# -- a real `uplight serve` process ------------------------------------------------

UPLIGHT = [sys.executable, "-m", "uplight"]


def create_token(config: Path, name: str = "tester") -> str:
    """`uplight token create`, as an operator would run it."""
    return subprocess.run(
        [*UPLIGHT, "token", "create", "--name", name, "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextlib.contextmanager
def serving(
    config: Path, port: int, *, log_level: str = "warning", timeout: float = 20.0
) -> Iterator[subprocess.Popen[str]]:
    """`uplight serve` until /healthz answers; on exit SIGTERM, and no traceback allowed."""
    proc = subprocess.Popen(
        [*UPLIGHT, "serve", "--config", str(config), "--log-level", log_level],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz")
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                _, errors = proc.communicate()
                raise AssertionError(f"uplight serve did not start:\n{errors}") from None
            time.sleep(0.05)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, errors = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, errors = proc.communicate()
        assert "Traceback" not in errors, errors
        assert proc.returncode == 0, errors
