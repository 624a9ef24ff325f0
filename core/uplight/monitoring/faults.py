"""What a check plugin can do wrong, put into words.

The scheduler runs a check through :func:`guarded` and :func:`call_check`, so
that whatever the plugin raises stays inside its task, and reads what it
returns through :func:`validated`: a fault becomes a message naming the check
type, never an error of the scheduler's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import Awaitable
from typing import Any

from ..checks import CheckContext, CheckType
from ..models import CheckResult, CheckStatus

MAX_MESSAGE = 2000


class WorkerFailure(Exception):
    """An isolated check raised, or its worker process failed; ``str`` says which, in
    words (the exception itself stayed in the worker)."""


class PluginExit(Exception):
    """A check raised a ``BaseException`` that is not an ``Exception``: ``SystemExit``,
    ``KeyboardInterrupt``, ``GeneratorExit``. Left to escape its task, the first two
    would stop the event loop itself, and the whole service with it."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


async def guarded(check: Awaitable[Any]) -> Any:
    try:
        return await check
    except (Exception, asyncio.CancelledError):
        raise  # the scheduler's own cancellation stays a cancellation
    except BaseException as exc:
        raise PluginExit(exc) from None


async def call_check(check_type: CheckType, options: Any, context: CheckContext) -> Any:
    outcome = check_type.check(options, context)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


def describe(exc: BaseException) -> str:
    if isinstance(exc, WorkerFailure):
        return str(exc)  # already in words, from the worker process
    if isinstance(exc, PluginExit):
        exc = exc.original
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ raises too
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def validated(value: Any, type_name: str) -> tuple[CheckResult, str | None]:
    """Check a plugin's return value; a garbage value is reported, never trusted."""
    bad = CheckResult.down("")
    if not isinstance(value, CheckResult):
        return bad, (
            f"check plugin {type_name!r} returned {type(value).__name__}, not a CheckResult"
        )
    try:
        status = CheckStatus(value.status)
    except ValueError:
        return bad, f"check plugin {type_name!r} returned an unknown status {value.status!r}"
    latency = value.latency
    if latency is not None and (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not math.isfinite(latency)
        or latency < 0
    ):
        return bad, f"check plugin {type_name!r} returned an invalid latency {latency!r}"
    if not isinstance(value.details, dict):
        return bad, f"check plugin {type_name!r} returned details that are not a table"
    try:
        json.dumps(value.details, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return bad, f"check plugin {type_name!r} returned details that are not JSON: {exc}"
    message = value.message if isinstance(value.message, str) else str(value.message)
    return CheckResult(status, latency, message[:MAX_MESSAGE], value.details), None
