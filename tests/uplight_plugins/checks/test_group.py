"""The ``group`` check type on its own: every rule as a table of members' states.

A member's state is one letter: ``u`` up, ``g`` degraded, ``d`` down, ``n`` not
checked yet; a capital ``U``/``D`` is the same member in maintenance. The group
runs end to end (real HTTP members, a real Runtime) in
``tests/uplight/monitoring/test_groups.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from uplight import CheckContext, CheckStatus, MonitorState
from uplight_plugins.checks.group import GroupCheck, GroupOptions, judge

CHECK = GroupCheck()
T0 = dt.datetime(2024, 6, 3, 12, 0, tzinfo=dt.UTC)
STATUS = {"u": CheckStatus.UP, "g": CheckStatus.DEGRADED, "d": CheckStatus.DOWN, "n": None}
UP, DEGRADED, DOWN = CheckStatus.UP, CheckStatus.DEGRADED, CheckStatus.DOWN


def members(codes: str) -> dict[str, MonitorState]:
    """``"uuD"`` → {"m1": up, "m2": up, "m3": down in maintenance}."""
    return {
        f"m{i}": MonitorState(
            status=STATUS[code.lower()],
            in_maintenance=code.isupper(),
            since=T0 if code.lower() != "n" else None,
            checked_at=T0 if code.lower() != "n" else None,
        )
        for i, code in enumerate(codes, start=1)
    }


def group(codes: str, **keys: Any) -> tuple[GroupOptions, dict[str, MonitorState]]:
    states = members(codes)
    return GroupOptions.model_validate({"members": list(states), **keys}), states


DEFAULT_RULE = [
    ("uuu", UP, "all 3 members up"),
    ("uud", DEGRADED, "1 of 3 members not up: m3 down"),
    ("udd", DEGRADED, "2 of 3 members not up: m2 down, m3 down"),
    ("ddd", DOWN, "3 of 3 members not up: m1 down, m2 down, m3 down"),
    ("d", DOWN, "1 of 1 members not up: m1 down"),
    ("u", UP, "all 1 members up"),
    ("uug", DEGRADED, "1 of 3 members not up: m3 degraded"),
    # never worse than its worst member: none is up, but none is down either
    ("ggg", DEGRADED, "3 of 3 members not up: m1 degraded, m2 degraded, m3 degraded"),
    ("gdd", DOWN, "3 of 3 members not up: m1 degraded, m2 down, m3 down"),
    ("un", DEGRADED, "1 of 2 members not up: m2 not checked yet"),
    ("n", DOWN, "1 of 1 members not up: m1 not checked yet"),
    # a member in maintenance does not count as down, up or not
    ("uuD", UP, "all 2 members up; in maintenance: m3"),
    ("uDd", DEGRADED, "1 of 2 members not up: m3 down; in maintenance: m2"),
    ("dD", DOWN, "1 of 1 members not up: m1 down; in maintenance: m2"),
    ("UDG", UP, "all 3 members are in maintenance"),
]


@pytest.mark.parametrize(("codes", "status", "message"), DEFAULT_RULE)
def test_default_rule(codes: str, status: CheckStatus, message: str) -> None:
    options, states = group(codes)
    result = judge(options, states)
    assert (result.status, result.message) == (status, message)


def test_no_members_is_down() -> None:
    options, states = group("")
    result = judge(options, states)
    assert (result.status, result.message) == (DOWN, "the group has no members")
    assert not CHECK.in_maintenance(options, states)


PERCENT_RULE = [
    # degraded above 50 % of the members counted not up, down above 75 %
    ("uuuu", {}, UP),
    ("uuud", {}, UP),  # 25 %
    ("uudd", {}, UP),  # 50 %: not above
    ("uddd", {}, DEGRADED),  # 75 %: not above
    ("dddd", {}, DOWN),
    ("udddd", {}, DOWN),  # 80 %
    ("uddU", {}, DEGRADED),  # 2 of 3 counted: 67 %
    ("uuddD", {}, UP),  # 2 of 4 counted: 50 %
    ("ggggg", {}, DEGRADED),  # 100 % not up, none down: degraded at most
    ("uuun", {}, UP),
    ("dUUU", {}, DOWN),  # 1 of 1 counted
    ("UUUU", {}, UP),  # all in maintenance
    # one threshold alone: the other keeps its default meaning
    ("uuud", {"degraded_above": None}, DEGRADED),  # some not up
    ("uddd", {"degraded_above": None}, DEGRADED),
    ("dddd", {"degraded_above": None}, DOWN),
    ("uudd", {"down_above": None}, UP),
    ("uddd", {"down_above": None}, DEGRADED),
    ("dddd", {"down_above": None}, DOWN),  # none up
    ("uuud", {"degraded_above": "0%"}, DEGRADED),
]


@pytest.mark.parametrize(("codes", "keys", "status"), PERCENT_RULE)
def test_percentage_rule(codes: str, keys: dict[str, Any], status: CheckStatus) -> None:
    thresholds = {"degraded_above": "50%", "down_above": "75%", **keys}
    options, states = group(codes, **{k: v for k, v in thresholds.items() if v is not None})
    assert judge(options, states).status is status


@pytest.mark.parametrize(
    ("codes", "in_maintenance"),
    [("UU", True), ("UDG", True), ("Uu", False), ("uu", False), ("", False)],
)
def test_a_group_whose_members_are_all_in_maintenance_is_in_maintenance(
    codes: str, in_maintenance: bool
) -> None:
    options, states = group(codes)
    assert CHECK.in_maintenance(options, states) is in_maintenance


def test_details_and_a_long_list_of_members() -> None:
    options, states = group("d" * 25 + "uD")
    result = judge(options, states)
    assert result.details == {
        "members": 27,
        "in_maintenance": ["m27"],
        "up": 1,
        "not_up": [f"m{i}" for i in range(1, 26)],
    }
    assert result.message.startswith("25 of 26 members not up: m1 down, m2 down")
    assert "m20 down and 5 more; in maintenance: m27" in result.message


async def test_check_reads_the_states_the_host_hands_it() -> None:
    options, states = group("ud")
    context = CheckContext("svc", 10.0, now=T0, monitor_states=states)
    result = await CHECK.check(options, context)
    assert result.status is DEGRADED
    assert CHECK.references(options) == {"members": ("m1", "m2")}
    # a member the host knows nothing of counts as not checked yet
    result = await CHECK.check(options, CheckContext("svc", 10.0, now=T0))
    assert result.status is DOWN and "m1 not checked yet" in result.message


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ({"members": ["a", "a"]}, "'a' is listed twice"),
        ({"members": ["a"], "down_above": 75}, 'a percentage in quotes, e.g. "50%"'),
        ({"members": ["a"], "down_above": "75"}, 'must be a percentage, e.g. "50%"'),
        ({"members": ["a"], "down_above": "100%"}, "must be below 100%"),
        ({"members": ["a"], "down_above": "-1%"}, "must be a percentage"),
        (
            {"members": ["a"], "degraded_above": "80%", "down_above": "50%"},
            "degraded_above must not be above down_above",
        ),
        ({}, "Field required"),
    ],
)
def test_options_errors(keys: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        GroupOptions.model_validate(keys)


def test_public_summary() -> None:
    options, _ = group("uu", degraded_above="50%", down_above="75.5%")
    assert CHECK.public_summary(options) == {
        "members": ["m1", "m2"],
        "degraded_above": "50%",
        "down_above": "75.5%",
    }
