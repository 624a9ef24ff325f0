"""The base a check type plugin builds on.

A check type is a class with a ``name``, an ``Options`` model (the monitor's
type-specific TOML keys) and one ``async def check(options, context)`` that
returns a :class:`~uplight.models.CheckResult`. It knows nothing of the store or
the web: the scheduler calls it, under a timeout, and records what it returns.
It may declare ``metrics``: gauges the ``/metrics`` collector reads from its
results' ``details``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ConfigDict

from .check_metrics import CheckMetric
from .models import CheckResult
from .strictness import NoCoercion


class CheckOptions(NoCoercion):
    """Base for a check type's options: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the host tells a check about the run it is in.

    ``timeout`` is the monitor's per-check timeout in seconds: use it for your own
    network timeouts so you can report a precise message; the scheduler enforces it
    as a hard limit too (with a short grace) and records a ``down`` result if you
    overrun it.
    """

    monitor_id: str
    timeout: float


class CheckType:
    """Subclass, set ``name`` and ``Options``, implement ``check``.

    One instance serves every monitor of this type, so keep no per-monitor state on
    ``self``; per-monitor configuration arrives as ``options``.
    """

    name: ClassVar[str]
    Options: ClassVar[type[CheckOptions]] = CheckOptions
    description: ClassVar[str] = ""
    # Gauges exported on /metrics; their names are checked when the plugin loads.
    metrics: ClassVar[Sequence[CheckMetric]] = ()

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        raise NotImplementedError

    def public_summary(self, options: Any) -> dict[str, Any]:
        """Facts about the target that are safe for the operator's API (never public)."""
        return {}
