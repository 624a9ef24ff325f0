"""The base a public renderer plugin builds on.

A renderer turns a snapshot (pure public data, see ``uplight.snapshot``) into
bytes. It never touches the database or the network, so its output can be
cached per snapshot by the host.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal, TypedDict, Unpack

from .snapshot import IncidentPage, PageSnapshot


class RenderParams(TypedDict, total=False):
    """The keyword parameters the host may pass to :meth:`Renderer.render`.

    Every key is optional and a renderer ignores the ones it has no use for.
    Routes pass ``view``, ``refresh_seconds``, ``fragment_url``, ``base_url``
    and ``asset_url`` to the ``html`` renderer and ``component`` to the
    ``badge`` renderer; any other renderer is called with none.
    """

    view: Literal["page", "fragment", "not_found", "rate_limited"]
    """Which part to draw: the whole page (the default), its live region, or the
    404 or 429 page (those two with no snapshot)."""
    refresh_seconds: int
    """How often the page's script fetches the live region again."""
    fragment_url: str
    """Where the page's script fetches its live region."""
    base_url: str
    """The public base URL, for the 404 and 429 pages' link home."""
    asset_url: Callable[[str], str]
    """A file name in ``assets_dir`` → its URL (the host adds a content hash)."""
    component: str
    """One component's public id: draw that component rather than the page."""
    config_path: str
    """With ``view="not_found"`` on ``/status`` while the config has no monitors at
    all (a fresh install): the config file's path, so the page says where to start."""


class Renderer:
    """Subclass, set ``name`` and ``media_type``, implement ``render``.

    ``name`` is how routes find the renderer (``html``, ``json``, ``rss``, ``badge``…).
    ``render`` receives a :class:`~uplight.snapshot.PageSnapshot` (or, for the
    html renderer's incident permalink, an :class:`~uplight.snapshot.IncidentPage`,
    and for its error pages ``None`` with ``view="not_found"`` or
    ``view="rate_limited"``) and the
    :class:`RenderParams` the route passes.

    ``assets_dir``: a folder of static files (CSS, JS, images) the host serves
    at ``/assets/<name>/<file>`` with long-lived caching, so pages can keep a
    strict Content-Security-Policy (no inline script or style).
    """

    name: ClassVar[str]
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    description: ClassVar[str] = ""
    assets_dir: ClassVar[Path | None] = None

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        raise NotImplementedError
