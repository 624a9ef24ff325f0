"""The ``group`` check: one monitor that stands for several, from its members' states.

A member is *up* when its newest result is; degraded, down, or not checked yet, it
is *not up*. A member in maintenance is left out of the count (it is not down), and
a group whose members are all in maintenance is in maintenance itself.

- Default rule: operational when every member counted is up, degraded when some are
  not, down when none is.
- With ``degraded_above`` / ``down_above`` (``"50%"``): degraded when more than that
  share of the members counted is not up, down when more than the other share is;
  either one left out keeps its default meaning.
- Never worse than its worst member: members that are only degraded make the group
  degraded at most, whatever the share.
- No members: down.

The message names the members that are not up. The check reads the states uplight
hands it (``context.monitor_states``, as of the check's start). uplight checks a
group on its interval and again as soon as a member's state changes, and not at
all before each member has a result or is in maintenance (no data until then).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, field_validator, model_validator

from uplight import (
    CheckContext,
    CheckOptions,
    CheckResult,
    CheckStatus,
    CheckType,
    MonitorState,
    hookimpl,
)

MAX_NAMED = 20  # members named in a message; the rest are counted


def _percent(value: Any) -> float:
    if not isinstance(value, str):
        raise ValueError(f'must be a percentage in quotes, e.g. "50%", not {value!r}')
    match = re.fullmatch(r"\s*(\d{1,3}(?:\.\d+)?)\s*%\s*", value)
    if match is None:
        raise ValueError(f'must be a percentage, e.g. "50%", not {value!r}')
    share = float(match.group(1))
    if share >= 100:
        raise ValueError("must be below 100%: more than 100% of the members cannot be down")
    return share


Percent = Annotated[float, BeforeValidator(_percent)]


class GroupOptions(CheckOptions):
    members: tuple[str, ...]
    degraded_above: Percent | None = None
    down_above: Percent | None = None

    @field_validator("members")
    @classmethod
    def _each_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for member in value:
            if member in seen:
                raise ValueError(f"{member!r} is listed twice")
            seen.add(member)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> GroupOptions:
        if (
            self.degraded_above is not None
            and self.down_above is not None
            and self.degraded_above > self.down_above
        ):
            raise ValueError("degraded_above must not be above down_above")
        return self


def judge(options: GroupOptions, states: Mapping[str, MonitorState]) -> CheckResult:
    """The group's result from its members' states (a member without one: not checked)."""
    members = options.members
    if not members:
        return CheckResult.down("the group has no members", members=0)
    absent = MonitorState(status=None)
    member_states = {m: states.get(m, absent) for m in members}
    resting = [m for m, s in member_states.items() if s.in_maintenance]
    counted = {m: s for m, s in member_states.items() if not s.in_maintenance}
    details: dict[str, Any] = {"members": len(members), "in_maintenance": resting}
    if not counted:
        details.update(up=0, not_up=[])
        return CheckResult.up(f"all {len(members)} members are in maintenance", **details)
    not_up = {m: s for m, s in counted.items() if not s.up}
    up = len(counted) - len(not_up)
    details.update(up=up, not_up=list(not_up))
    share = 100 * len(not_up) / len(counted)
    if options.down_above is not None:
        down = share > options.down_above
    else:
        down = up == 0
    if options.degraded_above is not None:
        degraded = share > options.degraded_above
    else:
        degraded = bool(not_up)
    only_degraded = all(s.status is CheckStatus.DEGRADED for s in not_up.values())
    message = _message(len(counted), up, not_up, resting)
    if down and not only_degraded:
        return CheckResult.down(message, **details)
    if down or degraded:
        return CheckResult.degraded(message, **details)
    return CheckResult.up(message, **details)


def _message(
    counted: int, up: int, not_up: Mapping[str, MonitorState], resting: Sequence[str]
) -> str:
    if not_up:
        text = f"{len(not_up)} of {counted} members not up: {_names(not_up)}"
    else:
        text = f"all {counted} members up"
    if resting:
        text += f"; in maintenance: {_list(resting)}"
    return text


def _names(not_up: Mapping[str, MonitorState]) -> str:
    return _list(
        [f"{m} {s.status.value if s.status else 'not checked yet'}" for m, s in not_up.items()]
    )


def _list(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    more = len(items) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


class GroupCheck(CheckType):
    name = "group"
    Options = GroupOptions
    description = "a monitor that stands for several: its state comes from its members'"

    async def check(self, options: GroupOptions, context: CheckContext) -> CheckResult:
        return judge(options, context.monitor_states)

    def references(self, options: GroupOptions) -> Mapping[str, Sequence[str]]:
        return {"members": options.members}

    def in_maintenance(self, options: GroupOptions, states: Mapping[str, MonitorState]) -> bool:
        return bool(options.members) and all(
            m in states and states[m].in_maintenance for m in options.members
        )

    def public_summary(self, options: GroupOptions) -> dict[str, Any]:
        summary: dict[str, Any] = {"members": list(options.members)}
        if options.degraded_above is not None:
            summary["degraded_above"] = f"{options.degraded_above:g}%"
        if options.down_above is not None:
            summary["down_above"] = f"{options.down_above:g}%"
        return summary


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(GroupCheck)
