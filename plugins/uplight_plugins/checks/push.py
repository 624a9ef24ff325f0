"""The ``push`` check: heartbeat monitors for cron jobs and backups (healthchecks.io semantics).

The job pings ``/ping/<token>`` when it succeeds (``/start`` when it begins,
``/fail`` or a non-zero exit code when it fails); uplight routes each ping here
(``on_ping``) and remembers when pings came. The silence is the event: ``check``,
run by the scheduler on the monitor's interval, judges on the scheduler's clock
whether a success is overdue (after ``period``, or after the ``schedule``'s next
run, plus ``grace``), whether the last ping was a failure, and whether a started
run has gone past ``max_runtime``.

A restart of uplight is not held against the monitor: when the ping the job was
expected to send could have arrived while uplight was not running, the deadline
restarts from uplight's start-up, as if a success had arrived then.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from uplight import (
    CheckContext,
    CheckOptions,
    CheckResult,
    CheckType,
    Duration,
    Ping,
    PingState,
    Secret,
    hookimpl,
    isoformat_z,
)

from .push_schedule import check_schedule, check_timezone, next_run

TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
MIN_TOKEN = 20
MAX_TOKEN = 200
# A ping this much before a scheduled run counts for that run: the job's clock and
# uplight's are never exactly together.
EARLY = 60.0


def _token(value: SecretStr) -> SecretStr:
    # The messages never repeat the value: it is a secret.
    token = value.get_secret_value()
    if not MIN_TOKEN <= len(token) <= MAX_TOKEN:
        raise ValueError(
            f"must be {MIN_TOKEN} to {MAX_TOKEN} characters (it has {len(token)});"
            " `openssl rand -hex 16` makes a good one"
        )
    if not set(token) <= TOKEN_CHARACTERS:
        raise ValueError("may hold only letters, digits and . _ ~ - (it is part of a URL)")
    return value


class PushOptions(CheckOptions):
    token: Annotated[Secret, AfterValidator(_token)]
    period: Duration | None = Field(None, ge=1)
    schedule: str | None = None
    tz: str | None = None
    grace: Duration = Field(300.0, ge=0)
    max_runtime: Duration | None = Field(None, ge=1)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_schedule(value)

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _timing(self) -> PushOptions:
        if self.period is not None and self.schedule is not None:
            raise ValueError("give period or schedule, not both")
        if self.period is None and self.schedule is None:
            raise ValueError('give period (e.g. "1h") or schedule (cron, e.g. "0 3 * * *")')
        if self.tz is not None and self.schedule is None:
            raise ValueError("tz applies to schedule only; a period is the same in every zone")
        return self

    def expected_after(self, moment: dt.datetime) -> dt.datetime:
        """When the job's next success is due, after one at ``moment``."""
        if self.period is not None:
            return moment + dt.timedelta(seconds=self.period)
        zone = zoneinfo.ZoneInfo(self.tz or "UTC")
        # Validated to match some time, so there is always a next run.
        found = next_run(self.schedule or "", zone, moment + dt.timedelta(seconds=EARLY))
        return found or dt.datetime.max.replace(tzinfo=dt.UTC)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else isoformat_z(moment)


def _after_restart(
    options: PushOptions,
    state: PingState,
    anchor: dt.datetime,
    then: Callable[[dt.datetime], dt.datetime],
) -> dt.datetime:
    """The anchor, moved to uplight's start-up when the run it awaited was due while
    uplight was not running (that ping may have been sent and lost)."""
    offline = state.offline_since
    if offline is None or anchor >= offline:
        return anchor
    due = then(anchor)
    if due <= state.resumed_at and due + dt.timedelta(seconds=options.grace) > offline:
        return state.resumed_at
    return anchor


class PushCheck(CheckType):
    name = "push"
    Options = PushOptions
    description = "Heartbeat: down when a job's ping is late, or says it failed"
    accepts_pings = True

    def ping_token(self, options: PushOptions) -> str:
        return options.token.get_secret_value()

    def public_summary(self, options: PushOptions) -> dict[str, Any]:
        # Never the token: this is read by the admin API and the console.
        summary: dict[str, Any] = {"grace": options.grace}
        if options.period is not None:
            summary["period"] = options.period
        else:
            summary["schedule"] = options.schedule
            summary["tz"] = options.tz or "UTC"
        if options.max_runtime is not None:
            summary["max_runtime"] = options.max_runtime
        return summary

    def on_ping(
        self, options: PushOptions, ping: Ping, context: CheckContext
    ) -> CheckResult | None:
        state = context.pings
        details: dict[str, Any] = {"ping": ping.kind}
        if ping.exit_code is not None:
            details["exit_code"] = ping.exit_code
        text = ping.body.strip()
        if ping.kind == "start":
            return None  # nothing happened yet: the next success measures the run
        if ping.kind == "fail":
            what = "failure ping" if ping.exit_code is None else f"exit code {ping.exit_code}"
            return CheckResult.down(text or what, **details)
        run = None
        if state is not None and state.last_start is not None:
            run = (ping.received_at - state.last_start).total_seconds()
        what = "success ping" if ping.exit_code is None else "exit code 0"
        if run is not None:
            what = f"{what}, the run took {_ago(run)}"
        return CheckResult.up(text or what, run, **details)

    async def check(self, options: PushOptions, context: CheckContext) -> CheckResult:
        state = context.pings
        if state is None:
            return CheckResult.down("uplight keeps no ping state for this monitor")
        now = context.now
        expected = options.expected_after
        details: dict[str, Any] = {
            "last_success": _iso(state.last_success),
            "last_failure": _iso(state.last_failure),
        }
        last = state.last_success
        if state.last_failure is not None and (last is None or state.last_failure > last):
            ago = _ago((now - state.last_failure).total_seconds())
            return CheckResult.down(f"the last ping, {ago} ago, reported a failure", **details)
        start = state.last_start
        if start is not None and options.max_runtime is not None:
            limit = dt.timedelta(seconds=options.max_runtime)
            lost = (
                state.offline_since is not None
                and start < state.offline_since
                and start + limit > state.offline_since
            )  # its end may have been pinged while uplight was not running
            if not lost and now > start + limit:
                ago = _ago((now - start).total_seconds())
                return CheckResult.down(
                    f"a run started {ago} ago and has not finished"
                    f" (max_runtime {_ago(options.max_runtime)})",
                    **details,
                )
        anchor = _after_restart(options, state, last or state.watched_since, expected)
        deadline = expected(anchor) + dt.timedelta(seconds=options.grace)
        details["deadline"] = isoformat_z(deadline)
        if now > deadline:
            since = (
                "no ping yet"
                if last is None
                else f"no ping for {_ago((now - last).total_seconds())}"
            )
            return CheckResult.down(f"{since}; one was due by {isoformat_z(deadline)}", **details)
        if last is None:
            return CheckResult.up(
                f"waiting for the first ping, due by {isoformat_z(deadline)}", **details
            )
        ago = _ago((now - last).total_seconds())
        return CheckResult.up(
            f"last ping {ago} ago; the next is due by {isoformat_z(deadline)}", **details
        )


@hookimpl
def uplight_check_types(register: Callable[[type[CheckType]], None]) -> None:
    register(PushCheck)
