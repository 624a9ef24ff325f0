"""``expect_json`` for the ``http`` check: assertions on JSONPath values of the body.

Paths are RFC 9535 JSONPath, compiled by ``python-jsonpath`` when the config loads
(so a bad path is a config error) and cached for the checks. Every value a path
selects must pass its operator; a path that selects nothing fails, except under
``exists = false``. Messages quote at most ``SHOWN`` characters of what was found:
the body is the server's, not ours, and may be large. ``jsonpath`` is imported
by the first path compiled: a config without ``expect_json`` never loads it.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

SHOWN = 100
OPERATORS = ("equals", "not_equals", "less_than", "greater_than", "contains", "matches", "exists")
_MISSING = object()

if TYPE_CHECKING:
    import jsonpath


@functools.lru_cache(maxsize=1024)
def _compiled(path: str) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    import jsonpath

    return jsonpath.compile(path)


class JsonAssertion(BaseModel):
    """One ``{ path = "$.status", <operator> = <value> }`` entry of ``expect_json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    equals: Any = _MISSING
    not_equals: Any = _MISSING
    less_than: float | None = None
    greater_than: float | None = None
    contains: Any = _MISSING
    matches: re.Pattern[str] | None = None
    exists: bool | None = None

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        import jsonpath

        try:
            _compiled(value)
        except jsonpath.JSONPathError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"invalid JSONPath {value!r}: {first}") from None
        return value

    @field_validator("less_than", "greater_than")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> JsonAssertion:
        given = [name for name in OPERATORS if self._given(name)]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"needs exactly one of {', '.join(OPERATORS)} (found {found})")
        return self

    def _given(self, name: str) -> bool:
        value = getattr(self, name)
        return value is not _MISSING and value is not None

    @property
    def operator(self) -> str:
        return next(name for name in OPERATORS if self._given(name))

    def failure(self, document: Any) -> str | None:
        """Why ``document`` fails this assertion, or None when it passes."""
        found = _compiled(self.path).findall(document)
        operator = self.operator
        if operator == "exists":
            if bool(found) is self.exists:
                return None
            return f"{self.path}: expected {'a value' if self.exists else 'nothing'}, found " + (
                _show(found[0]) if found else "nothing"
            )
        expected = getattr(self, operator)
        wanted = f"{operator.replace('_', ' ')} {_show(_expected(expected))}"
        if not found:
            return f"{self.path}: expected {wanted}, found nothing"
        for value in found:
            if not _passes(operator, expected, value):
                return f"{self.path}: expected {wanted}, found {_show(value)}"
        return None


def _expected(value: Any) -> Any:
    return value.pattern if isinstance(value, re.Pattern) else value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, but 1 is 1.0.
    if _number(a) and _number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(type(a) is type(b) and a == b) or (
        isinstance(a, list | tuple) and isinstance(b, list | tuple) and list(a) == list(b)
    )


def _passes(operator: str, expected: Any, value: Any) -> bool:
    if operator == "equals":
        return _same(expected, value)
    if operator == "not_equals":
        return not _same(expected, value)
    if operator == "less_than":
        return _number(value) and value < expected
    if operator == "greater_than":
        return _number(value) and value > expected
    if operator == "contains":
        if isinstance(value, str):
            return isinstance(expected, str) and expected in value
        if isinstance(value, list):
            return any(_same(expected, item) for item in value)
        return False
    if operator == "matches":
        return isinstance(value, str) and expected.search(value) is not None
    raise AssertionError(operator)  # the validator admits no other


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure cannot come from json.loads; be safe anyway
        text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def json_failure(assertions: tuple[JsonAssertion, ...], body: bytes, limit: int) -> str | None:
    """The first failed assertion's message, or why the body could not be judged."""
    if not assertions:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        cut = f" (read only the first max_body_bytes = {limit})" if len(body) >= limit else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        return f"body is not JSON: {reason.lower()}{cut}"
    for assertion in assertions:
        failure = assertion.failure(document)
        if failure is not None:
            return failure
    return None
