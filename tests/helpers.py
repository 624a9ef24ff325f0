"""Small helpers for tests: free ports, waiting for conditions, driving a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import httpx

from uplight.clock import FakeClock

T = TypeVar("T")


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


# -- driving a fake clock ----------------------------------------------------------


# A database call runs on aiosqlite's own thread: no number of loop passes waits for
# it, so ``settle`` counts the calls in flight (a count, nothing is replaced) and
# waits until none is.
_database_calls_in_flight = 0
_waiting_for_no_database_calls: list[asyncio.Future[None]] = []


def _count_database_calls() -> None:
    execute = aiosqlite.Connection._execute

    @functools.wraps(execute)
    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        global _database_calls_in_flight
        _database_calls_in_flight += 1
        try:
            return await execute(self, fn, *args, **kwargs)
        finally:
            _database_calls_in_flight -= 1
            if not _database_calls_in_flight:
                for waiter in _waiting_for_no_database_calls:
                    if not waiter.done():
                        waiter.set_result(None)
                _waiting_for_no_database_calls.clear()

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


_count_database_calls()


async def settle(rounds: int = 100, timeout: float = 10.0) -> None:
    """Let the ready tasks run until they wait again, with no time passing.

    Each round is one pass of the event loop; a hop from one task to another (a
    task started, a future set, a lock handed over) takes one. The scheduler's
    longest chain is about ten hops and does no I/O, so a hundred rounds leave
    every task waiting on the clock or on something the test controls, once no
    database call is still running on its thread (those take real time: a result
    folded into an incident writes it before the engine records it open).
    """
    while True:
        for _ in range(rounds):
            await asyncio.sleep(0)
        if not _database_calls_in_flight:
            return
        waiter = asyncio.get_running_loop().create_future()
        _waiting_for_no_database_calls.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise AssertionError(f"database calls still running after {timeout} s") from None


async def run_for(clock: FakeClock, seconds: float) -> None:
    """Let ``seconds`` pass on ``clock`` as real time would: stopping at every
    deadline on the way, so each sleeper wakes at its own time and sees it."""
    end = clock.monotonic() + seconds
    await settle()
    while (deadline := clock.next_deadline()) is not None and deadline <= end:
        clock.advance_to(deadline)
        await settle()
    clock.advance_to(end)
    await settle()


async def run_until_done(clock: FakeClock, awaitable: Awaitable[T], limit: float = 3600.0) -> T:
    """Await ``awaitable`` while moving ``clock`` from deadline to deadline.

    Fails, rather than hangs, when the awaitable waits for something other than
    the clock or would take longer than ``limit`` seconds of clock time.
    """
    task = asyncio.ensure_future(awaitable)
    end = clock.monotonic() + limit
    await settle()
    while not task.done():
        deadline = clock.next_deadline()
        if deadline is None or deadline > end:
            task.cancel()
            raise AssertionError(f"not done, and nothing due on the clock until {end}")
        clock.advance_to(deadline)
        await settle()
    return task.result()


# -- a real `uplight serve` process ------------------------------------------------

UPLIGHT = [sys.executable, "-m", "uplight"]


def create_token(config: Path, name: str = "tester", *args: str) -> str:
    """`uplight token create`, as an operator would run it (``args``: e.g. ``--probe``)."""
    return subprocess.run(
        [*UPLIGHT, "token", "create", "--name", name, "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextlib.contextmanager
def serving(
    config: Path,
    port: int,
    *,
    log_level: str = "warning",
    timeout: float = 20.0,
    args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[str]]:
    """`uplight serve` (with ``args`` added) until /healthz answers; on exit SIGTERM,
    and no traceback allowed."""
    proc = subprocess.Popen(
        [*UPLIGHT, "serve", "--config", str(config), "--log-level", log_level, *args],
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
