"""A tiny third-party plugin, as an outside author would write it: public API only."""

from __future__ import annotations

from typing import Any, Unpack

from uplight import (
    CheckContext,
    CheckOptions,
    CheckResult,
    CheckType,
    IncidentPage,
    PageSnapshot,
    Renderer,
    RenderParams,
    hookimpl,
)


class AcmeOptions(CheckOptions):
    answer: int = 42


class AcmeCheck(CheckType):
    name = "acme"
    Options = AcmeOptions
    description = "always up, reports its answer"

    async def check(self, options: AcmeOptions, context: CheckContext) -> CheckResult:
        return CheckResult.up(f"the answer is {options.answer}", 0.001, answer=options.answer)


class TextRenderer(Renderer):
    name = "acme-text"
    media_type = "text/plain; charset=utf-8"

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        if not isinstance(snapshot, PageSnapshot):
            raise TypeError(f"acme-text cannot render {type(snapshot).__name__}")
        return f"{snapshot.title}: {snapshot.status.value}\n".encode()


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(AcmeCheck)


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(TextRenderer)
