"""The HTML status page, server-rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from uplight import Renderer, hookimpl

_env = Environment(
    loader=PackageLoader("uplight_plugins.renderers", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class HtmlRenderer(Renderer):
    name = "html"
    media_type = "text/html; charset=utf-8"
    description = "the status page as HTML, complete without JavaScript"

    def render(self, snapshot: Any, **params: Any) -> bytes:
        return _env.get_template("status.html").render(page=snapshot, **params).encode()


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(HtmlRenderer)
