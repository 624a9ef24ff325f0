"""The SVG badge (``/api/public/v1/badge.svg``), shields.io "flat" style.

``render(page_snapshot, component=None)`` draws the page's overall state with
the page title as the label; ``component=<public id>`` draws that component's
state with its public name. The route validates ``component`` and ``style``
before calling (unknown component → 404, any style but ``flat`` → 400).

Text widths come from a small per-character table for Verdana 11px (what
shields.io measures with); close enough that the text fits its box, and
``textLength`` makes the renderer stretch or squeeze it to the exact width.
"""

from __future__ import annotations

import re
from typing import Any, Unpack
from xml.sax.saxutils import escape

from uplight import (
    STATUS_LABELS,
    IncidentPage,
    PageSnapshot,
    Renderer,
    RenderParams,
    Status,
    hookimpl,
)

COLOURS: dict[Status, str] = {
    Status.OPERATIONAL: "#4c1",  # shields "brightgreen"
    Status.DEGRADED: "#dfb317",  # yellow
    Status.PARTIAL_OUTAGE: "#fe7d37",  # orange
    Status.MAJOR_OUTAGE: "#e05d44",  # red
    Status.MAINTENANCE: "#007ec6",  # blue
    Status.NO_DATA: "#9f9f9f",  # lightgrey
}
LABEL_COLOUR = "#555"
MAX_LABEL_CHARS = 48  # a long page title would make a banner, not a badge
PADDING = 10  # horizontal padding per half, in pixels

# Verdana 11px advance widths, in pixels, by character class.
_WIDTHS: dict[str, float] = {
    **dict.fromkeys("ijl|!.,:;'`", 3.3),
    **dict.fromkeys("frt()[]{}I/\\-", 4.7),
    **dict.fromkeys(" ", 3.9),
    **dict.fromkeys('"*', 5.5),
    **dict.fromkeys("mw", 9.9),
    **dict.fromkeys("MW", 10.9),
    **dict.fromkeys("%@", 11.0),
    **dict.fromkeys("abcdeghknopqsuvxyz", 6.8),
    **dict.fromkeys("ABCDEFGHJKLNOPQRSTUVXYZ", 7.6),
    **dict.fromkeys("0123456789", 7.0),
}
_DEFAULT_WIDTH = 7.6
_WIDE_WIDTH = 11.0  # CJK and other full-width characters

# Characters XML 1.0 forbids: no escaping makes them well-formed, so drop them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text_width(text: str) -> float:
    return sum(_WIDTHS.get(ch, _WIDE_WIDTH if ord(ch) >= 0x2E80 else _DEFAULT_WIDTH) for ch in text)


def _clean(text: str) -> str:
    text = " ".join(_NOT_XML.sub("", text).split())
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return text


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def badge_svg(label: str, message: str, colour: str) -> str:
    """A flat badge: grey label on the left, coloured message on the right."""
    label, message = _clean(label) or "status", _clean(message)
    label_w = round(text_width(label) + 2 * PADDING)
    message_w = round(text_width(message) + 2 * PADDING)
    width = label_w + message_w
    title = f"{label}: {message}"
    # Text is drawn at 10x and scaled by .1, as shields does, for sub-pixel placement.
    label_x, message_x = label_w * 5, (label_w + message_w / 2) * 10
    label_len, message_len = (label_w - 2 * PADDING) * 10, (message_w - 2 * PADDING) * 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'role="img" aria-label="{_attr(title)}">'
        f"<title>{escape(title)}</title>"
        '<linearGradient id="s" x2="0" y2="100%">'
        '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        '<g clip-path="url(#r)">'
        f'<rect width="{label_w}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{label_w}" width="{message_w}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{label_x:.0f}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{label_len}">{escape(label)}</text>'
        f'<text x="{label_x:.0f}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{label_len}">{escape(label)}</text>'
        f'<text aria-hidden="true" x="{message_x:.0f}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{message_len}">{escape(message)}</text>'
        f'<text x="{message_x:.0f}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{message_len}">{escape(message)}</text>'
        "</g></svg>"
    )


class BadgeRenderer(Renderer):
    name = "badge"
    media_type = "image/svg+xml"
    description = "shields-style flat SVG badge of the page's or one component's state"

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        if not isinstance(snapshot, PageSnapshot):
            raise TypeError(f"badge renderer cannot render {type(snapshot).__name__}")
        public_id = params.get("component")
        if public_id is None:
            label, status = snapshot.title, snapshot.status
        else:
            found = snapshot.component(public_id)
            if found is None:
                # The route answers 404 before calling; reaching here is a host bug.
                raise LookupError("no such component on this page")
            label, status = found.name, found.status
        message = STATUS_LABELS[status].lower()
        return badge_svg(label, message, COLOURS[status]).encode()


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(BadgeRenderer)
