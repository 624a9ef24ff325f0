"""The HTML status page, server-rendered with Jinja2 (autoescaped).

Views (``view=`` parameter):

- ``"page"`` (default for a page snapshot): the whole page, complete without
  JavaScript; its dynamic region is ``<div id="live">``.
- ``"fragment"``: only the inner HTML of that region, which ``status.js``
  fetches every ``refresh_seconds`` and swaps in.
- an :class:`uplight.IncidentPage` renders the incident's permalink page: the
  part of the timeline it holds, with links to the older and newer parts.
- ``"not_found"`` (with ``snapshot=None``): a friendly 404 page; with ``config_path``
  (a fresh install, nothing configured), it says which file to edit.
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
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Unpack
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


# A history cell's class: one short word per state (status.css colours them). The
# cells are most of a big page's bytes, so each is just ``<i class=op></i>``.
CELL_CLASSES: dict[Status, str] = {
    Status.OPERATIONAL: "op",
    Status.DEGRADED: "dg",
    Status.PARTIAL_OUTAGE: "po",
    Status.MAJOR_OUTAGE: "mo",
    Status.MAINTENANCE: "mt",
    Status.NO_DATA: "nd",
}
_CELLS = {status: f"<i class={word}></i>" for status, word in CELL_CLASSES.items()}


@lru_cache(maxsize=4096)  # a few distinct uptimes per page: bounded for any homelab
def day_words(status: Status, uptime: float | None) -> str:
    """What a history cell says after its date, e.g. "99.8% uptime, operational"."""
    if status is Status.MAINTENANCE and uptime is None:
        # Every check of the day failed during maintenance: planned, so no uptime.
        return "maintenance"
    if status is Status.NO_DATA or uptime is None:
        return "no data"
    return f"{percent(uptime)} uptime, {STATUS_LABELS[status].lower()}"


def cell_label(day: Any) -> str:
    """The accessible name of one history cell, e.g. "2026-11-20: 99.8% uptime, operational"."""
    return f"{day.date.isoformat()}: {day_words(day.status, day.uptime)}"


def history_runs(history: tuple[Any, ...]) -> list[tuple[int, int, Status, float | None]]:
    """Consecutive days that read the same, as (index of the first, days, status, uptime).

    The cells are one per UTC day, oldest first, so a run's dates follow from its
    first index. Tight on purpose: a page of 1,000 components walks 90,000 days.
    """
    runs: list[tuple[int, int, Status, float | None]] = []
    if not history:
        return runs
    first, status, uptime = 0, history[0].status, history[0].uptime
    for index in range(1, len(history)):
        day = history[index]
        if day.status is not status or day.uptime != uptime:
            runs.append((first, index - first, status, uptime))
            first, status, uptime = index, day.status, day.uptime
    runs.append((first, len(history) - first, status, uptime))
    return runs


@lru_cache(maxsize=8192)
def _run_item(first: dt.date, last: dt.date, days: int, words: str) -> str:
    if days == 1:
        return f"<li>{first.isoformat()}: {html.escape(words)}</li>"
    span = f"{first.isoformat()} to {last.isoformat()}: {html.escape(words)}"
    return f'<li data-n="{days}">{span}</li>'


@lru_cache(maxsize=1024)
def _rest_item(words: str) -> str:
    return f"<li data-rest>All other days: {html.escape(words)}</li>"


def history_cells(history: tuple[Any, ...]) -> str:
    """One component's history as markup: most of a big page's bytes, so kept small.

    The cells are bare coloured boxes, hidden from assistive technology; before
    them a visually hidden list says what every day read, with or without
    JavaScript: the runs of days that differ from the component's usual day
    ("2026-11-01: 98.26% uptime, partial outage", "2026-09-22 to 2026-09-24: no
    data"), in order, then "All other days: 100% uptime, operational". status.js
    makes each cell's tooltip from that list when the pointer reaches it.
    """
    if not history:
        return '<ol class="visually-hidden"></ol><div class="cells" aria-hidden="true"></div>'
    runs = history_runs(history)
    tally: dict[str, int] = {}
    worded = []
    for first, days, status, uptime in runs:
        words = day_words(status, uptime)
        tally[words] = tally.get(words, 0) + days
        worded.append((history[first].date, history[first + days - 1].date, days, words))
    usual = max(tally, key=tally.__getitem__)  # on a tie, the first to appear
    # Every text was escaped in _run_item and _rest_item; the template marks it |safe.
    if len(worded) == 1:
        items = _run_item(*worded[0])
    else:
        items = "".join(_run_item(*run) for run in worded if run[3] != usual)
        items += _rest_item(usual)
    cells = "".join(_CELLS[status] * days for _, days, status, _ in runs)
    return (
        f'<ol class="visually-hidden" data-first="{history[0].date.isoformat()}">{items}</ol>'
        f'<div class="cells" aria-hidden="true">{cells}</div>'
    )


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
            chunks = _env.get_template(f"{view}.html").generate(
                home=f"{base}/status", config_path=params.get("config_path"), **common
            )
        elif isinstance(snapshot, IncidentPage):
            chunks = _env.get_template("incident.html").generate(ip=snapshot, **common)
        elif isinstance(snapshot, PageSnapshot):
            chunks = self._render_page(snapshot, view, params, common)
        else:
            raise TypeError(f"html renderer cannot render {type(snapshot).__name__}")
        # Chunk by chunk: one str of a whole big page (UCS-2 once it holds a "—") would
        # double its size in memory and hold the GIL while it is encoded at once.
        return b"".join(chunk.encode() for chunk in chunks)

    def _render_page(
        self, page: PageSnapshot, view: str, params: RenderParams, common: dict[str, Any]
    ) -> Iterator[str]:
        prefix = local_path(page.base_url).rstrip("/")
        links = {
            "rss": f"{prefix}/api/public/v1/incidents.rss?page={quote(page.slug)}",
            "json": f"{prefix}/api/public/v1/status.json?page={quote(page.slug)}",
        }
        if view == "fragment":
            return _env.get_template("fragment.html").generate(page=page, links=links, **common)
        if view != "page":
            raise ValueError(f"unknown html view {view!r}")
        fragment_url = params.get("fragment_url") or (
            local_path(page.page_url).split("?")[0].rstrip("/") + "/fragment"
        )
        refresh = int(params.get("refresh_seconds") or DEFAULT_REFRESH_SECONDS)
        return _env.get_template("status.html").generate(
            page=page,
            links=links,
            fragment_url=fragment_url,
            refresh_seconds=max(1, refresh),
            **common,
        )


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(HtmlRenderer)
