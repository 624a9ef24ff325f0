"""Check plugins that misbehave in every way issue 10 lists, for real `uplight serve`
processes and for worker processes (``[scheduler] isolate``).

- ``exiting``: calls ``sys.exit()``, as a library might;
- ``blocking``: ``time.sleep`` inside ``async def check``, holding the event loop;
- ``crashing``: ends its process at once (``os._exit``), as a crash in C would;
- ``hanging``: blocks for good;
- ``fine``: answers up, and says which process it ran in;
- ``patient``: a healthy check that waits 300 ms for its answer and takes a few
  passes of the event loop to read it, as an HTTP check does.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from uplight import CheckContext, CheckOptions, CheckResult, CheckType, hookimpl


class BlockingOptions(CheckOptions):
    seconds: float = 2.0


class ExitingCheck(CheckType):
    name = "exiting"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.sleep(0)
        sys.exit(3)


class BlockingCheck(CheckType):
    name = "blocking"
    Options = BlockingOptions

    async def check(self, options: BlockingOptions, context: CheckContext) -> CheckResult:
        time.sleep(options.seconds)  # noqa: ASYNC251 (the point of this plugin)
        return CheckResult.up(f"slept {options.seconds}s", options.seconds)


class CrashingCheck(CheckType):
    name = "crashing"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        os._exit(7)


class HangingCheck(CheckType):
    name = "hanging"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        time.sleep(3600)  # noqa: ASYNC251 (the point of this plugin)
        return CheckResult.up("never")


class FineCheck(CheckType):
    name = "fine"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("fine", 0.001, pid=os.getpid())


class PatientCheck(CheckType):
    name = "patient"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        started = time.monotonic()
        await asyncio.sleep(0.3)
        for _ in range(20):
            await asyncio.sleep(0)
        return CheckResult.up("answered", time.monotonic() - started)


@hookimpl
def uplight_check_types(register: Any) -> None:
    for check_type in (
        ExitingCheck,
        BlockingCheck,
        CrashingCheck,
        HangingCheck,
        FineCheck,
        PatientCheck,
    ):
        register(check_type)
