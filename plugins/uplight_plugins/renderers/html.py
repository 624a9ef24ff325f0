"""The HTML status page, server-rendered with Jinja2 (autoescaped).

Views (``view=`` parameter):

- ``"page"`` (default for a page snapshot): the whole page, complete without
  JavaScript; its dynamic region is ``<div id="live">``.
- ``"fragment"``: only the inner HTML of that region, which ``status.js``
  fetches every ``refresh_seconds`` and swaps in.
- an :class:`uplight.IncidentPage` renders the incident's permalink page: the
  part of the timeline it holds, with links to the older and newer parts.
- ``"not_found"`` (with ``snapshot=None``): a friendly 404 page.
- ``"rate_limited"`` (with ``snapshot=None``): the 429 page, asking to wait and reload.

Other parameters: ``refresh_seconds`` (default 30), ``asset_url`` (file name
in ``assets_dir`` → URL; defaults to ``/assets/html/<file>?v=<content hash>``),
``fragment_url`` (defaults to the page's path plus ``/fragment``) and
``base_url`` (for the 404 and 429 pages' link home).

The output never carries a ``style`` attribute or an inline script: the page is
served under ``script-src 'self'; style-src 'self'``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import math
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Unpack
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from uplight import (
    STATUS_LABELS,
    IncidentPage,
    PageSnapshot,
    Renderer,
    RenderParams,
    Status,
    hookimpl,
    isoformat_z,
)

ASSETS = Path(__file__).parent / "assets"
DEFAULT_REFRESH_SECONDS = 30
# A maintenance window's severity in words, next to its status (colour is not enough).
MAINTENANCE_SEVERITY_LABELS = {
    "info": "Informational",
    "warning": "Warning",
    "critical": "Critical",
}


def local_path(url: str) -> str:
    """The path (and query) of an absolute URL.

    In-page links and the fragment URL stay on the origin the visitor is on, so
    they work (and pass ``connect-src 'self'``) even when the page is reached
    under another host name than ``server.public_base_url``.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def percent(value: float | None) -> str:
    """Uptime for humans: at most two decimals, rounded down, so 99.996 never reads 100."""
    if value is None:
        return "no data"
    floored = math.floor(value * 100) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


def utc_text(value: dt.datetime) -> str:
    """What a <time> element shows without JavaScript: UTC, to the minute."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class HistoryCell(NamedTuple):
    """What a history cell's label depends on (a day's check count does not show)."""

    date: dt.date
    status: Status
    uptime: float | None


def cell_label(day: Any) -> str:
    """The accessible name of one history cell, e.g. "2026-11-20: 99.8% uptime, operational"."""
    if day.status is Status.MAINTENANCE and day.uptime is None:
        # Every check of the day failed during maintenance: planned, so no uptime.
        return f"{day.date.isoformat()}: maintenance"
    if day.status is Status.NO_DATA or day.uptime is None:
        return f"{day.date.isoformat()}: no data"
    return (
        f"{day.date.isoformat()}: {percent(day.uptime)} uptime, {STATUS_LABELS[day.status].lower()}"
    )


@lru_cache(maxsize=32768)  # a few hundred bytes each: bounded for any homelab
def _cell(date: dt.date, status: Status, uptime: float | None) -> str:
    label = html.escape(cell_label(HistoryCell(date, status, uptime)), quote=True)
    return (
        f'<span class="cell cell-{status.value}" role="img" '
        f'aria-label="{label}" title="{label}"></span>'
    )


def history_cells(history: tuple[Any, ...]) -> str:
    """One component's history cells as markup (most of the page's bytes).

    Built in Python with each cell cached by what it shows (day, state,
    uptime): between two snapshots only a component's today cell changes, so a
    refresh formats almost nothing again.
    """
    # Every label was escaped in _cell; the template marks the result |safe.
    return "\n".join(_cell(d.date, d.status, d.uptime) for d in history)


@cache
def _asset_hash(name: str) -> str:
    # Assets ship inside the package and never change while the process runs.
    return hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:12]


def default_asset_url(name: str) -> str:
    return f"/assets/{HtmlRenderer.name}/{quote(name)}?v={_asset_hash(name)}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("uplight_plugins.renderers", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        iso=isoformat_z,
        utc=utc_text,
        percent=percent,
        path=local_path,
        history_cells=history_cells,
    )
    env.globals["STATUS_LABELS"] = STATUS_LABELS
    env.globals["MAINTENANCE_SEVERITY_LABELS"] = MAINTENANCE_SEVERITY_LABELS
    return env


_env = _environment()


class HtmlRenderer(Renderer):
    name = "html"
    media_type = "text/html; charset=utf-8"
    description = "the status page as HTML, complete without JavaScript"
    assets_dir = ASSETS

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        view = params.get("view", "page")
        asset_url: Callable[[str], str] = params.get("asset_url") or default_asset_url
        common = {"asset_url": asset_url}
        if view in ("not_found", "rate_limited"):
            base = local_path(params.get("base_url") or "/").rstrip("/")
            markup = _env.get_template(f"{view}.html").render(home=f"{base}/status", **common)
        elif isinstance(snapshot, IncidentPage):
            markup = _env.get_template("incident.html").render(ip=snapshot, **common)
        elif isinstance(snapshot, PageSnapshot):
            markup = self._render_page(snapshot, view, params, common)
        else:
            raise TypeError(f"html renderer cannot render {type(snapshot).__name__}")
        return markup.encode()

    def _render_page(
        self, page: PageSnapshot, view: str, params: RenderParams, common: dict[str, Any]
    ) -> str:
        prefix = local_path(page.base_url).rstrip("/")
        links = {
            "rss": f"{prefix}/api/public/v1/incidents.rss?page={quote(page.slug)}",
            "json": f"{prefix}/api/public/v1/status.json?page={quote(page.slug)}",
        }
        if view == "fragment":
            return _env.get_template("fragment.html").render(page=page, links=links, **common)
        if view != "page":
            raise ValueError(f"unknown html view {view!r}")
        fragment_url = params.get("fragment_url") or (
            local_path(page.page_url).split("?")[0].rstrip("/") + "/fragment"
        )
        refresh = int(params.get("refresh_seconds") or DEFAULT_REFRESH_SECONDS)
        return _env.get_template("status.html").render(
            page=page,
            links=links,
            fragment_url=fragment_url,
            refresh_seconds=max(1, refresh),
            **common,
        )


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(HtmlRenderer)
