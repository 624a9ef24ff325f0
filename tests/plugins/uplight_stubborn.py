"""A check plugin that swallows cancellation: the worst a plugin can do to shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from uplight import CheckContext, CheckOptions, CheckResult, CheckType, hookimpl


class StubbornCheck(CheckType):
    name = "stubborn"
    Options = CheckOptions

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # never gives up


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(StubbornCheck)
