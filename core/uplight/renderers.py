"""The base a public renderer plugin builds on.

A renderer turns a snapshot (pure public data, see ``uplight.snapshot``) into
bytes. It never touches the database or the network, so its output can be
cached per snapshot by the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class Renderer:
    """Subclass, set ``name`` and ``media_type``, implement ``render``.

    ``name`` is how routes find the renderer (``html``, ``json``, ``rss``, ``badge``…).
    ``render`` receives a :class:`~uplight.snapshot.PageSnapshot` (or, for the
    html renderer's incident permalink, an :class:`~uplight.snapshot.IncidentPage`)
    and keyword parameters the route passes (documented per renderer).

    ``assets_dir``: a folder of static files (CSS, JS, images) the host serves
    at ``/assets/<name>/<file>`` with long-lived caching, so pages can keep a
    strict Content-Security-Policy (no inline script or style).
    """

    name: ClassVar[str]
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    description: ClassVar[str] = ""
    assets_dir: ClassVar[Path | None] = None

    def render(self, snapshot: Any, **params: Any) -> bytes:
        raise NotImplementedError
