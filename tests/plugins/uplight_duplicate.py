"""A plugin that claims the built-in "http" check type."""

from typing import Any

from uplight import CheckType, hookimpl


class AnotherHttp(CheckType):
    name = "http"


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(AnotherHttp)
