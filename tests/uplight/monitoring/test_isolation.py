"""``[scheduler] isolate``: a check type's checks in a worker process of its own.

Real worker processes (spawned, as in production) running the fake plugins of
``tests/plugins/uplight_misbehaving.py``, on the real clock: a process cannot
wait on a fake one. Each test starts as few workers as it can, since a spawn
costs about a second on a busy machine.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from uplight.checks import CheckContext, CheckType
from uplight.config import Config, ConfigError, MonitorConfig
from uplight.models import CheckResult, CheckStatus
from uplight.monitoring.scheduler import Scheduler

PLUGINS = Path(__file__).parents[2] / "plugins"


@pytest.fixture
def misbehaving(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    # On sys.path before a worker spawns: the worker imports the check type by module.
    monkeypatch.syspath_prepend(str(PLUGINS))
    import uplight_misbehaving

    yield uplight_misbehaving


def check_types(module: ModuleType) -> dict[str, CheckType]:
    classes = (
        module.ExitingCheck,
        module.BlockingCheck,
        module.CrashingCheck,
        module.HangingCheck,
        module.FineCheck,
    )
    return {cls.name: cls() for cls in classes}


def monitor(monitor_id: str, type_name: str, timeout: float = 5.0, options: Any = None) -> Any:
    base = MonitorConfig.model_validate(
        {"id": monitor_id, "name": monitor_id, "type": type_name, "interval": "1m"}
    )
    update: dict[str, Any] = {"timeout": timeout}
    if options is not None:
        update["options"] = options
    return base.model_copy(update=update)


def alive(pid: int | None) -> bool:
    """Running, not a zombie (Linux's /proc)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_isolated_checks_run_in_a_worker_that_survives_exits_and_is_replaced(
    misbehaving: ModuleType,
) -> None:
    types = check_types(misbehaving)
    scheduler = Scheduler([], types, isolate=["fine", "exiting", "crashing"])
    try:
        first = await scheduler.run_check(monitor("fine", "fine"))
        again = await scheduler.run_check(monitor("fine", "fine"))
        assert first.result.status is CheckStatus.UP
        worker = first.result.details["pid"]
        assert worker != os.getpid()  # not in this process
        assert again.result.details["pid"] == worker  # one worker per type, kept
        assert scheduler.isolation.pids()["fine"] == worker

        # sys.exit() in the worker: one down result naming the plugin, the worker goes on.
        exited = await scheduler.run_check(monitor("exits", "exiting"))
        assert exited.result.status is CheckStatus.DOWN
        assert exited.error_reason == "exception"
        assert exited.result.message == "check plugin 'exiting' failed: SystemExit: 3"
        exiting_worker = scheduler.isolation.pids()["exiting"]
        await scheduler.run_check(monitor("exits", "exiting"))
        assert scheduler.isolation.pids()["exiting"] == exiting_worker

        # A crash ends the worker: it costs that check, and the next gets a new worker.
        crashed = await scheduler.run_check(monitor("crash", "crashing"))
        assert crashed.error_reason == "exception"
        assert crashed.result.message == (
            "check plugin 'crashing' failed: its worker process died (exit code 7)"
        )
        assert scheduler.isolation.pids()["crashing"] is None
        crashed = await scheduler.run_check(monitor("crash", "crashing"))
        assert crashed.result.message.endswith("its worker process died (exit code 7)")
        assert (await scheduler.run_check(monitor("fine", "fine"))).result.details["pid"] == worker
    finally:
        await scheduler.stop()
    assert not alive(worker)  # stop ends the workers
    assert not alive(exiting_worker)


async def test_a_hung_worker_is_killed_and_a_blocking_check_holds_no_loop(
    misbehaving: ModuleType,
) -> None:
    types = check_types(misbehaving)
    scheduler = Scheduler([], types, isolate=["hanging", "blocking"])
    try:
        hung = await scheduler.run_check(monitor("hung", "hanging", timeout=0.5))
        assert hung.error_reason == "timeout"
        assert hung.result.message == "hanging check did not finish within 0.5s"
        assert scheduler.isolation.pids()["hanging"] is None  # killed with its check
        deadline = time.monotonic() + 5
        while any(p.name == "uplight-check-hanging" for p in multiprocessing.active_children()):
            assert time.monotonic() < deadline, "the hung worker is still running"
            await asyncio.sleep(0.01)

        # A blocking check sleeps in its worker while this loop keeps turning.
        options = misbehaving.BlockingOptions(seconds=1.0)
        blocking = asyncio.create_task(
            scheduler.run_check(monitor("slow", "blocking", options=options))
        )
        ticks, started = 0, time.monotonic()
        while not blocking.done():
            ticks += 1
            await asyncio.sleep(0.01)
        record = blocking.result()
        assert record.result == CheckResult(CheckStatus.UP, 1.0, "slept 1.0s", {})
        assert time.monotonic() - started >= 1.0
        assert ticks > 50  # the loop turned all along, 100 times a second
        assert scheduler.watchdog.stalls == {}  # and the watchdog saw no stall
    finally:
        await scheduler.stop()


async def test_unpicklable_options_are_a_down_result(misbehaving: ModuleType) -> None:
    class Local(CheckType):  # not importable by its module: cannot be isolated
        name = "local"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            return CheckResult.up()

    scheduler = Scheduler([], {"local": Local()}, isolate=["local"])
    try:
        record = await scheduler.run_check(monitor("local", "local"))
    finally:
        await scheduler.stop()
    assert record.error_reason == "exception"
    assert record.result.message.startswith(
        "check plugin 'local' failed: its worker process cannot load"
    )


def test_isolate_names_loaded_check_types(make_config: Callable[[str], Config]) -> None:
    config = make_config('[scheduler]\nisolate = ["http", "dns"]\n')
    assert config.scheduler.isolate == ("http", "dns")
    with pytest.raises(ConfigError) as caught:
        make_config('[scheduler]\nisolate = ["http", "htpp", "nope"]\n')
    assert [str(issue) for issue in caught.value.issues] == [
        "scheduler.isolate[1]: unknown check type 'htpp' (did you mean 'http'?)",
        "scheduler.isolate[2]: unknown check type 'nope'",
    ]
