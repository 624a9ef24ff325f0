"""`uplight schema`: the config's JSON Schema, as strict as the loader, and kept in step
with the repository's uplight.schema.json (which config.example.toml names)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import uplight
from uplight.cli.schema import schema_text
from uplight.config import ConfigError, parse_config
from uplight.config.json_schema import config_json_schema
from uplight.durations import Duration
from uplight.plugins import PluginRegistry, load_plugins

ROOT = Path(__file__).parents[3]
COMMITTED = ROOT / "uplight.schema.json"
EXAMPLES = [ROOT / "config.example.toml", ROOT / "contrib" / "docker" / "config.toml"]


@pytest.fixture(scope="module")
def schema(registry: PluginRegistry) -> dict[str, Any]:
    return config_json_schema(registry.check_types, registry.notifiers)


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def loader_refuses(registry: PluginRegistry, document: dict[str, Any]) -> bool:
    try:
        parse_config(_toml(document), registry.check_types, notifier_types=registry.notifiers)
    except ConfigError:
        return True
    return False


def _toml(document: dict[str, Any]) -> str:
    """The little TOML these tests need: tables and arrays of tables of plain values."""
    lines: list[str] = []
    for key, value in document.items():
        if isinstance(value, dict):
            lines += [f"[{key}]", *(f"{k} = {json.dumps(v)}" for k, v in value.items())]
        elif isinstance(value, list):
            for table in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def test_the_committed_file_is_what_uplight_schema_prints(schema: dict[str, Any]) -> None:
    """Regenerate with `uplight schema --builtins-only > uplight.schema.json`."""
    printed = subprocess.run(
        [sys.executable, "-m", "uplight", "schema", "--builtins-only"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == schema_text(schema)
    assert COMMITTED.read_text(encoding="utf-8") == printed, (
        "uplight.schema.json is stale: run `uplight schema --builtins-only > uplight.schema.json`"
    )


def test_it_is_a_draft_2020_12_schema_with_a_branch_per_type(
    schema: dict[str, Any], registry: PluginRegistry
) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    monitors = schema["$defs"]["monitors"]
    assert [b["$ref"] for b in monitors["oneOf"]] == [
        f"#/$defs/monitors.{name}" for name in sorted(registry.check_types)
    ]
    http = schema["$defs"]["monitors.http"]
    assert http["properties"]["type"] == {"const": "http"}
    assert {"id", "name", "type", "url"} <= set(http["required"])
    assert http["additionalProperties"] is False
    # Defaults as the file writes them, descriptions from the models.
    assert http["properties"]["interval"]["default"] == "1m"
    assert "at most 7d" in http["properties"]["interval"]["description"]
    assert http["description"] == registry.check_types["http"].description
    ntfy = schema["$defs"]["notifiers.ntfy"]["properties"]
    assert ntfy["topic"] == {"$ref": "#/$defs/secret"}
    assert ntfy["server"]["default"] == "https://ntfy.sh"


def test_the_example_configs_start_with_the_schema_and_validate(schema: dict[str, Any]) -> None:
    assert (ROOT / "config.example.toml").read_text().splitlines()[0] == (
        "#:schema ./uplight.schema.json"
    )
    for path in EXAMPLES:
        assert errors(schema, tomllib.loads(path.read_text())) == [], path


def example() -> dict[str, Any]:
    return tomllib.loads((ROOT / "config.example.toml").read_text())


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ((), "sever"),  # a section
        (("server",), "listn"),  # a key of a table
        (("monitors", 0), "intervall"),  # a monitor's common key
        (("monitors", 0), "expect_stauts"),  # a check type's own key
        (("notifiers", 0), "tpoic"),  # a channel's
    ],
)
def test_a_typo_fails_as_the_loader_refuses_it(
    schema: dict[str, Any], registry: PluginRegistry, where: tuple[Any, ...], key: str
) -> None:
    document = example()
    document.setdefault("notifiers", []).append(
        {"id": "phone", "type": "ntfy", "topic": "uplight-alerts"}
    )
    assert errors(schema, document) == []
    table = document
    for step in where:
        table = table[step]
    table[key] = "x" if where else {}
    assert errors(schema, document)
    assert loader_refuses(registry, _flat(document))


def _flat(document: dict[str, Any]) -> dict[str, Any]:
    """Only what _toml can write: the top-level tables and the monitors and channels."""
    keep = ("server", "storage", "sever", "monitors", "notifiers")
    out = {k: copy.deepcopy(v) for k, v in document.items() if k in keep}
    for monitor in out.get("monitors", []):
        monitor.pop("locations", None)
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("interval", 5),  # a duration is a string with a unit
        ("interval", "5"),  # ... not a bare number
        ("interval", "5 minutes"),
        ("failure_threshold", "2"),  # a number, not a string
        ("incidents", "yes"),
        ("url", 80),
    ],
)
def test_a_wrong_type_fails_as_the_loader_refuses_it(
    schema: dict[str, Any], registry: PluginRegistry, key: str, value: Any
) -> None:
    monitor = {"id": "web", "name": "Web", "type": "http", "url": "https://example.org/"}
    document = {"monitors": [monitor]}
    assert errors(schema, document) == []
    assert not loader_refuses(registry, document)
    monitor[key] = value
    assert errors(schema, document)
    assert loader_refuses(registry, document)


@pytest.mark.parametrize(
    "extra",
    [
        {"interval": "1H30m", "timeout": " 250ms "},  # units in any case, spaces around
        {"expect_status": 200, "body_contains": "ok"},  # one value where a list goes
        {"method": "post", "headers": {"Authorization": {"env": "HOME"}}},
        {"basic_auth": {"username": "u", "password": {"file": "/etc/hostname"}}},
    ],
)
def test_what_the_loader_takes_the_schema_takes(
    schema: dict[str, Any], registry: PluginRegistry, extra: dict[str, Any]
) -> None:
    monitor = {"id": "web", "name": "Web", "type": "http", "url": "https://example.org/", **extra}
    document = {"monitors": [monitor]}
    assert not loader_refuses(registry, document)
    assert errors(schema, document) == []


def test_an_unknown_type_or_a_missing_required_key_fails(schema: dict[str, Any]) -> None:
    assert errors(schema, {"monitors": [{"id": "a", "name": "A", "type": "htp", "url": "x"}]})
    assert errors(schema, {"monitors": [{"id": "a", "name": "A", "type": "http"}]})
    assert errors(schema, {"notifiers": [{"id": "n", "type": "ntfy"}]})


class Geiger(uplight.CheckType):
    """A third-party check type, as a plugin package would register it."""

    name = "geiger"
    description = "counts clicks"

    class Options(uplight.CheckOptions):
        sensor: str
        clicks_per_minute: int = 30
        window: Duration = 300.0

    async def check(self, options: Any, context: Any) -> uplight.CheckResult:
        raise NotImplementedError


class GeigerPlugin:
    @uplight.hookimpl
    def uplight_check_types(self, register: Any) -> None:
        register(Geiger)


def test_a_plugins_check_type_brings_its_options() -> None:
    registry = load_plugins(builtins_only=True, extra=[("geiger", GeigerPlugin())])
    schema = config_json_schema(registry.check_types, registry.notifiers)
    branch = schema["$defs"]["monitors.geiger"]
    assert branch["description"] == "counts clicks"
    assert branch["properties"]["clicks_per_minute"] == {"default": 30, "type": "integer"}
    assert branch["properties"]["window"]["default"] == "5m"
    assert "sensor" in branch["required"]
    monitor = {"id": "lab", "name": "Lab", "type": "geiger", "sensor": "/dev/ttyUSB0"}
    assert errors(schema, {"monitors": [monitor]}) == []
    assert errors(schema, {"monitors": [{**monitor, "clicks_per_minute": "many"}]})
    assert errors(schema, {"monitors": [{**monitor, "sensr": "x"}]})


class Dial(uplight.CheckType):
    """Options pydantic has no JSON Schema for: a callable."""

    name = "dial"

    class Options(uplight.CheckOptions):
        number: str
        on_answer: Callable[[str], None] = print

    async def check(self, options: Any, context: Any) -> uplight.CheckResult:
        raise NotImplementedError


class DialPlugin:
    @uplight.hookimpl
    def uplight_check_types(self, register: Any) -> None:
        register(Dial)


def test_options_the_schema_cannot_describe_are_left_open_and_said() -> None:
    registry = load_plugins(builtins_only=True, extra=[("dial", DialPlugin())])
    problems: list[str] = []
    schema = config_json_schema(registry.check_types, registry.notifiers, problems)
    assert len(problems) == 1 and problems[0].startswith("check type 'dial': its options")
    branch = schema["$defs"]["monitors.dial"]
    assert "additionalProperties" not in branch and branch["properties"]["type"]["const"] == "dial"
    monitor = {"id": "phone", "name": "Phone", "type": "dial", "number": "+1", "x": 1}
    assert errors(schema, {"monitors": [monitor]}) == []
    assert errors(schema, {"monitors": [{**monitor, "interval": 5}]})  # common keys still hold
    # Every other type keeps its branch.
    assert schema["$defs"]["monitors.http"]["additionalProperties"] is False


def test_every_toml_example_in_the_docs_that_loads_passes_the_schema(
    schema: dict[str, Any], registry: PluginRegistry
) -> None:
    """The editor must never mark what uplight accepts: the docs' examples (those that
    load here, without their files and variables) are the corpus."""
    checked = 0
    for doc in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S):
            try:
                parse_config(block, registry.check_types, notifier_types=registry.notifiers)
            except (ConfigError, tomllib.TOMLDecodeError):
                continue
            assert errors(schema, tomllib.loads(block)) == [], f"{doc}:\n{block}"
            checked += 1
    assert checked >= 10
