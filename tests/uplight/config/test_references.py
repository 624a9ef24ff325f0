"""Monitors that name other monitors (``CheckType.references``: a group's members):
unknown ids, a monitor naming itself and cycles are config errors at the TOML path
of the reference. The check is generic: a fake check type with two keys of
references is refused the same way."""

from __future__ import annotations

from typing import Any

import pytest

from uplight import CheckContext, CheckOptions, CheckResult, CheckType
from uplight.config import ConfigError, parse_config
from uplight.plugins import PluginRegistry


def monitor(monitor_id: str, kind: str = "http", **keys: Any) -> str:
    text = f'[[monitors]]\nid = "{monitor_id}"\nname = "{monitor_id}"\ntype = "{kind}"\n'
    if kind == "http":
        text += 'url = "http://127.0.0.1:1/"\n'
    for key, value in keys.items():
        shown = "[" + ", ".join(f'"{v}"' for v in value) + "]" if isinstance(value, list) else value
        text += f"{key} = {shown}\n"
    return text


def group(monitor_id: str, *members: str) -> str:
    return monitor(monitor_id, "group", members=list(members))


def errors_of(text: str, check_types: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, check_types)
    return [str(issue) for issue in info.value.issues]


def test_valid_groups_of_groups_and_members_on_no_page(registry: PluginRegistry) -> None:
    text = monitor("a") + monitor("b") + group("ab", "a", "b") + group("all", "ab", "a")
    config = parse_config(text, registry.check_types)
    assert [m.id for m in config.monitors] == ["a", "b", "ab", "all"]
    assert config.monitor("all").options.members == ("ab", "a")  # type: ignore[union-attr]


def test_unknown_members_are_named_with_their_path(registry: PluginRegistry) -> None:
    text = monitor("router-a") + group("routers", "router-a", "router-b", "ruoter-a")
    assert errors_of(text, registry.check_types) == [
        "monitors[1].members[1]: no monitor has id 'router-b' (did you mean 'router-a'?)",
        "monitors[1].members[2]: no monitor has id 'ruoter-a' (did you mean 'router-a'?)",
    ]


def test_a_group_naming_itself(registry: PluginRegistry) -> None:
    assert errors_of(monitor("a") + group("g", "a", "g"), registry.check_types) == [
        "monitors[1].members[1]: 'g' is this monitor itself"
    ]


def test_cycles_are_reported_once_at_the_reference_that_closes_them(
    registry: PluginRegistry,
) -> None:
    text = (
        monitor("a")
        + group("one", "a", "two")
        + group("two", "three")
        + group("three", "one")
        + group("x", "y")
        + group("y", "x")
        + group("outside", "one")  # reaches the cycle, is not part of it
    )
    assert errors_of(text, registry.check_types) == [
        "monitors[3].members[0]: 'one' -> 'two' -> 'three' -> 'one' is a cycle:"
        " a monitor cannot depend on itself",
        "monitors[5].members[0]: 'x' -> 'y' -> 'x' is a cycle: a monitor cannot depend on itself",
    ]


def test_a_member_whose_own_table_is_invalid_is_still_known(registry: PluginRegistry) -> None:
    # Its own error is reported; the group does not add a second, misleading one.
    text = monitor("a", interval='"never"') + group("g", "a")
    errors = errors_of(text, registry.check_types)
    assert len(errors) == 1 and errors[0].startswith("monitors[0].interval")


class PairOptions(CheckOptions):
    primary: str
    standby: str


class Pair(CheckType):
    name = "pair"
    Options = PairOptions

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up()

    def references(self, options: PairOptions) -> dict[str, list[str]]:
        return {"primary": [options.primary], "standby": [options.standby]}


class Broken(CheckType):
    name = "broken"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up()

    def references(self, options: Any) -> dict[str, list[str]]:
        raise RuntimeError("boom")


def test_any_check_type_that_references_monitors(registry: PluginRegistry) -> None:
    types = {**registry.check_types, "pair": Pair(), "broken": Broken()}
    text = (
        monitor("a")
        + monitor("p", "pair", primary='"a"', standby='"q"')
        + monitor("q", "pair", primary='"p"', standby='"nope"')
        + monitor("b", "broken")
    )
    assert errors_of(text, types) == [
        "monitors[2].standby[0]: no monitor has id 'nope'",
        "monitors[3]: check type 'broken' failed to list its references: boom",
        "monitors[2].primary[0]: 'p' -> 'q' -> 'p' is a cycle: a monitor cannot depend on itself",
    ]
