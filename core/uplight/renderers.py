"""The base a public renderer plugin builds on.

A renderer turns a page snapshot (pure data, see ``uplight.pages``) into bytes.
It never touches the database or the network, so its output can be cached per
snapshot by the host.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Renderer:
    """Subclass, set ``name`` and ``media_type``, implement ``render``.

    ``name`` is how routes find the renderer (``html``, ``json``, ``rss``, ``badge``…).
    """

    name: ClassVar[str]
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    description: ClassVar[str] = ""

    def render(self, snapshot: Any, **params: Any) -> bytes:
        raise NotImplementedError
