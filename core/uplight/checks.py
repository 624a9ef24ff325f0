"""The base a check type plugin builds on.

A check type is a class with a ``name``, an ``Options`` model (the monitor's
type-specific TOML keys) and one ``async def check(options, context)`` that
returns a :class:`~uplight.models.CheckResult`. It knows nothing of the store or
the web: the scheduler calls it, under a timeout, and records what it returns.
It may declare ``metrics``: gauges the ``/metrics`` collector reads from its
results' ``details``.

A check type may also receive heartbeats (``accepts_pings``): uplight routes
``/ping/<token>`` to the monitor whose ``ping_token`` it is, remembers when pings
came (:class:`PingState`, kept in the database) and hands each one to
``on_ping``; its ``check`` then judges the silence between pings on the
scheduler's clock.

A check type may derive its state from other monitors (``references``: the
built-in ``group``): the config refuses unknown ids and cycles, and each check
sees the current state of the monitors it references in
``context.monitor_states``. One whose state the operator sets (``accepts_state``:
the built-in ``manual``) finds it in ``context.operator_state``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict

from .check_metrics import CheckMetric
from .models import CheckResult, CheckStatus
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
    # The scheduler's clock when the check was started (UTC): judge time by this, not
    # by the system clock, so tests can drive it.
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # What uplight remembers of the monitor's pings, for a check type that accepts them.
    pings: PingState | None = None
    # The current state of each monitor the options reference (``CheckType.references``),
    # as it was when the check started; empty for a check type that references none.
    # Read it, never change it: it is the host's view of the other monitors.
    monitor_states: Mapping[str, MonitorState] = field(default_factory=dict)
    # The state the operator set, for a check type that sets ``accepts_state``.
    operator_state: OperatorState | None = None


PingKind = Literal["success", "start", "fail"]


@dataclass(frozen=True, slots=True)
class Ping:
    """One heartbeat, as ``on_ping`` receives it.

    ``kind``: ``"success"`` (``/ping/<token>``, or exit code 0), ``"start"``
    (``/ping/<token>/start``) or ``"fail"`` (``/ping/<token>/fail``, or an exit code
    1 to 255). ``body`` is the first 10 KB of a POST body, decoded as UTF-8 with
    undecodable bytes replaced (empty for other methods): operator text, never public.
    """

    kind: PingKind
    received_at: dt.datetime  # UTC, on the scheduler's clock
    exit_code: int | None = None
    body: str = ""


@dataclass(frozen=True, slots=True)
class PingState:
    """What uplight remembers of one monitor's pings; kept in the database, so a
    restart keeps it. Times are UTC.

    ``last_start`` is a run's start not yet ended by a success or a failure.
    ``watched_since`` is when uplight first watched the monitor (the deadline of a
    monitor that has never been pinged counts from it). ``resumed_at`` is when this
    uplight process began watching it, and ``offline_since`` the last moment the
    previous one was known to be watching it (``None`` when there was none): pings
    sent between the two were lost, which a check type should not hold against the
    monitor.
    """

    watched_since: dt.datetime
    resumed_at: dt.datetime
    offline_since: dt.datetime | None = None
    last_success: dt.datetime | None = None
    last_failure: dt.datetime | None = None
    last_start: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class MonitorState:
    """A monitor's current state, as another monitor's check sees it (no message: that
    is the operator's, not a rule's input). Times are UTC.

    ``status`` is its newest result's, ``None`` before its first; ``since`` is when
    its results took that status (the first of the run, kept across restarts) and
    ``checked_at`` its newest result. ``in_maintenance``: a live maintenance window
    covers it now (or it derives maintenance from the monitors it references).
    """

    status: CheckStatus | None
    in_maintenance: bool = False
    since: dt.datetime | None = None
    checked_at: dt.datetime | None = None

    @property
    def up(self) -> bool:
        return self.status is CheckStatus.UP


@dataclass(frozen=True, slots=True)
class OperatorState:
    """The state an operator set on a monitor whose check type ``accepts_state``
    (``PUT /api/v1/monitors/{id}/state``, ``uplight monitors set-state``); kept in the
    database, so a restart keeps it. ``set_at`` and ``set_by`` (the API token's name)
    are ``None`` while nobody has set it: ``status`` is then ``up``."""

    status: CheckStatus = CheckStatus.UP
    message: str = ""
    set_at: dt.datetime | None = None
    set_by: str | None = None


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

    # -- heartbeats: only for a check type that sets ``accepts_pings`` ------------------

    # Its monitors receive pings at /ping/<token>.
    accepts_pings: ClassVar[bool] = False

    def ping_token(self, options: Any) -> str:
        """The secret in the monitor's ping URL (at least 20 URL-safe characters)."""
        raise NotImplementedError

    def on_ping(self, options: Any, ping: Ping, context: CheckContext) -> CheckResult | None:
        """The result a ping stands for, recorded at once; None records nothing.

        ``context.pings`` is the state *before* this ping; uplight updates it after
        (a success or failure ends a started run). Called on the event loop, once per
        ping: no I/O, no waiting.
        """
        return None

    # -- derived state: for a check type whose monitors stand for others ---------------

    def references(self, options: Any) -> Mapping[str, Sequence[str]]:
        """The monitors these options name, by option key: ``{"members": ("a", "b")}``.

        The config refuses an id no monitor has, a monitor naming itself and a cycle
        (a group of groups that comes back to itself), each at the key's TOML path
        (``monitors[3].members[1]``). Each check gets the current state of the named
        monitors in ``context.monitor_states``, and the monitor is checked again at once
        when one of them changes state; it is not checked before each of them has a
        result or is in maintenance. Called when the config is loaded and when the
        scheduler is built: no I/O.
        """
        return {}

    def in_maintenance(self, options: Any, states: Mapping[str, MonitorState]) -> bool:
        """Whether the monitor is in maintenance because of the monitors it references
        (``states``: theirs, now); a window covering the monitor itself counts anyway.
        While true, its results are flagged as taken during maintenance: no incident
        opens and nothing notifies. Called often, on the event loop: no I/O."""
        return False

    # -- operator-set state: for a check type that sets ``accepts_state`` ---------------

    # Its monitors take a state the operator sets through the API or the CLI, handed to
    # ``check`` as ``context.operator_state``; a change is checked (and recorded) at once.
    accepts_state: ClassVar[bool] = False
