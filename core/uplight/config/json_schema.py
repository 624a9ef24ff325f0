"""The config as a JSON Schema (draft 2020-12), for editors: ``uplight schema``.

Built from the same models the loader validates with, so it cannot drift from
them: the tables of ``Config``, and for ``[[monitors]]`` and ``[[notifiers]]`` one
branch per installed check type or notifier (a ``oneOf`` told apart by a
``type`` const), each holding the common keys and that type's ``Options``. It is
as strict as the loader about keys (a model that refuses unknown keys gives
``additionalProperties: false``); rules across fields (a timeout within its
interval, references between tables) are left to ``uplight check-config``.

Types that parse their own input are described as the file writes them:
a duration is a string such as ``"30s"`` (its bounds in the description), a
secret is a string, ``{ env = "NAME" }`` or ``{ file = "/path" }``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from ..durations import format_duration
from ..notify.config import NotifierConfig
from ..secrets import resolve_secret
from ..strictness import NoCoercion
from .models import Config, MonitorConfig

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# durations.parse_duration: number-unit pairs, units in any case, spaces around.
DURATION_PATTERN = r"^\s*(?:\d+(?:\.\d+)?(?:[mM][sS]|[sSmMhHdD]))+\s*$"
_BOUNDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
_REFUSE_COERCION = NoCoercion._refuse_coercion.__func__  # type: ignore[attr-defined]
_JSON_BOUNDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
}
_REF = "#/$defs/{model}"
# Put where a shared definition goes, made a "$ref" once pydantic is done (pydantic
# resolves every "$ref" it meets against the definitions it made itself).
_MARK = "x-uplight-def"

DURATION_DEF: dict[str, Any] = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "description": 'A duration: a number and a unit (ms, s, m, h, d), e.g. "30s", "5m", "1h30m".',
}
SECRET_DEF: dict[str, Any] = {
    "description": 'A secret: a plain string, { env = "NAME" } or { file = "/path" }.',
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {"env": {"type": "string", "description": "an environment variable"}},
            "required": ["env"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"file": {"type": "string", "description": "a file holding it"}},
            "required": ["file"],
            "additionalProperties": False,
        },
    ],
}


def config_json_schema(
    check_types: Mapping[str, Any],
    notifier_types: Mapping[str, Any],
    problems: list[str] | None = None,
) -> dict[str, Any]:
    """The whole config's schema, with every given check type's and notifier's options.

    A type whose options pydantic cannot describe (a field of a type JSON Schema has no
    word for) gets a branch that takes any keys, and a line in ``problems``, rather
    than costing the whole schema. Serialise it with sorted keys (``uplight schema``
    does) for a stable file."""
    check_models = {name: check_types[name].Options for name in sorted(check_types)}
    notifier_models = {name: notifier_types[name].Options for name in sorted(notifier_types)}
    opaque: set[type[BaseModel]] = set()
    for kind, found in (("check", check_models), ("notifier", notifier_models)):
        for name, model in found.items():
            reason = _undescribable(model)
            if reason is not None:
                opaque.add(model)
                if problems is not None:
                    problems.append(
                        f"{kind} type {name!r}: its options are left open in the schema ({reason})"
                    )
    models = [Config, MonitorConfig, NotifierConfig, *check_models.values()]
    models = [m for m in [*models, *notifier_models.values()] if m not in opaque]
    wanted: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in dict.fromkeys(models)]
    keys, top = models_json_schema(
        wanted, ref_template=_REF, schema_generator=_ConfigSchemaGenerator
    )
    defs: dict[str, Any] = top["$defs"]
    root = defs.pop(_def_name(keys[(Config, "validation")]))
    root["properties"].pop("source", None)  # set by the loader, not a key of the file
    monitor = defs.pop(_def_name(keys[(MonitorConfig, "validation")]))
    notifier = defs.pop(_def_name(keys[(NotifierConfig, "validation")]))
    for section, common, models, types, kind in (
        ("monitors", monitor, check_models, check_types, "check"),
        ("notifiers", notifier, notifier_models, notifier_types, "notifier"),
    ):
        branches = []
        for name, model in models.items():
            options = {} if model in opaque else defs[_def_name(keys[(model, "validation")])]
            key = f"{section}.{name}"
            defs[key] = _branch(common, options, name, getattr(types[name], "description", ""))
            branches.append({"$ref": "#/$defs/" + _pointer(key)})
        defs[section] = {
            "type": "object",
            "description": f"One [[{section}]] table: the keys every one has, and those of"
            f" its {kind} type (`type`).",
            "required": ["type"],
            "properties": {"type": {"enum": list(models)}},
            "oneOf": branches,
        }
        root["properties"][section] = {
            "type": "array",
            "items": {"$ref": f"#/$defs/{section}"},
        }
    _drop_unreferenced(defs, root)
    root, defs = _linked(root), _linked(defs)
    defs["duration"], defs["secret"] = DURATION_DEF, SECRET_DEF
    return {
        "$schema": DRAFT,
        "title": "uplight config",
        "description": "uplight's config.toml (generated by `uplight schema`).",
        **{k: v for k, v in root.items() if k not in ("title", "description")},
        "$defs": defs,
    }


def _branch(common: dict[str, Any], options: dict[str, Any], name: str, text: str) -> Any:
    """One type's table: the common keys (``type`` fixed to it) and the type's own."""
    properties = {k: v for k, v in common["properties"].items() if k != "options"}
    properties["type"] = {"const": name}
    properties.update(options.get("properties", {}))
    branch: dict[str, Any] = {
        "type": "object",
        "title": name,
        "properties": properties,
        "required": sorted({*common.get("required", ()), *options.get("required", ())}),
    }
    if text or options.get("description"):
        branch["description"] = text or options["description"]
    if common.get("additionalProperties") is False and "additionalProperties" in options:
        # The loader sends every key but the common ones to the type's Options.
        branch["additionalProperties"] = options["additionalProperties"]
    return branch


def _undescribable(model: type[BaseModel]) -> str | None:
    try:
        model.model_json_schema(schema_generator=_ConfigSchemaGenerator)
    except Exception as exc:  # a plugin's model: whatever it raises, it is that model's
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _def_name(ref: JsonSchemaValue) -> str:
    return str(ref["$ref"]).removeprefix("#/$defs/")


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _drop_unreferenced(defs: dict[str, Any], root: dict[str, Any]) -> None:
    """The Options models inlined into branches, unless something else refers to them."""
    while True:
        text = repr(root) + repr(defs)
        unused = [k for k in defs if f"'#/$defs/{_pointer(k)}'" not in text]
        if not unused:
            return
        for key in unused:
            del defs[key]


def _linked(value: Any) -> Any:
    if isinstance(value, list):
        return [_linked(item) for item in value]
    if not isinstance(value, dict):
        return value
    linked = {key: _linked(item) for key, item in value.items() if key != _MARK}
    if linked.get("default", ...) is None:
        del linked["default"]  # TOML has no null: such a key is one left out
    # Bounds pydantic could not place (on an optional value) come out under their
    # Python names; JSON Schema's for a number, words for a duration.
    bounds = {
        key: linked.pop(key)
        for key in _BOUNDS
        if isinstance(linked.get(key), int | float)  # not an option named "lt"
    }
    if _MARK in value:
        linked["$ref"] = f"#/$defs/{value[_MARK]}"
        if bounds and value[_MARK] == "duration":
            linked["description"] = _duration_bounds(bounds)
    else:
        linked.update({_JSON_BOUNDS[key]: bound for key, bound in bounds.items()})
    return linked


def _duration_bounds(bounds: Mapping[str, Any]) -> str:
    words = [f"{_BOUNDS[k]} {format_duration(v)}" for k, v in bounds.items() if k in _BOUNDS]
    return f"A duration, {' and '.join(words)}."


def _is_duration(schema: core_schema.CoreSchema) -> bool:
    serialization = schema.get("serialization") or {}
    return serialization.get("function") is format_duration  # the Duration type's serializer


def _unwrap(schema: core_schema.CoreSchema) -> core_schema.CoreSchema:
    """The value's own type under optional, default and NoCoercion's before-validator."""
    while schema["type"] in ("nullable", "default", "function-before", "function-after"):
        schema = schema["schema"]  # type: ignore[typeddict-item]
    return schema


class _ConfigSchemaGenerator(GenerateJsonSchema):
    # JsonAssertion's operators default to a sentinel: "not given" is no default to show.
    ignored_warning_kinds = {"skipped-choice", "non-serializable-default"}

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "Retention Days" says nothing the key does not

    def function_wrap_schema(self, schema: core_schema.WrapValidatorFunctionSchema) -> Any:
        if not _is_duration(schema):
            return super().function_wrap_schema(schema)
        inner: Any = schema["schema"]
        bounds = {k: inner[k] for k in _BOUNDS if isinstance(inner.get(k), int | float)}
        result: dict[str, Any] = {_MARK: "duration"}
        if bounds:
            result["description"] = _duration_bounds(bounds)
        return result

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> Any:
        function = schema["function"]["function"]
        if function is resolve_secret:
            return {_MARK: "secret"}
        if getattr(function, "__func__", None) is _REFUSE_COERCION or schema.get(
            "json_schema_input_schema"
        ):
            # NoCoercion's check lets through only what the type takes; a validator that
            # declares its input (json_schema_input_type) is described by it.
            return super().function_before_schema(schema)
        # Any other before-validator reads input the type does not describe (one value
        # for a list, 200 for "200", "get" for "GET"): the schema must not refuse what
        # the loader takes, so it says nothing of the value's type.
        return {}

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> Any:
        result = super().default_schema(schema)
        default = result.get("default")
        inner = _unwrap(schema["schema"])
        if isinstance(default, dict) and inner["type"] in ("model", "definition-ref"):
            result.pop("default")  # a whole table's defaults: each key shows its own
        elif _is_duration(inner) and isinstance(default, int | float):
            result["default"] = format_duration(default)
        return result

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, SecretStr):
            return dft.get_secret_value()  # a default in the code, not anyone's secret
        return super().encode_default(dft)

    def nullable_schema(self, schema: core_schema.NullableSchema) -> Any:
        # TOML has no null: an optional key is one left out, so only the value's type.
        return self.generate_inner(schema["schema"])
