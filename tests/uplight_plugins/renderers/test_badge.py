"""The badge renderer: a well-formed flat SVG with the right colour and words."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from snapshots import page_snapshot

from uplight import STATUS_LABELS, Status
from uplight_plugins.renderers.badge import COLOURS, BadgeRenderer, text_width

RENDERER = BadgeRenderer()
SVG = "{http://www.w3.org/2000/svg}"


def badge(**params: object) -> ET.Element:
    return ET.fromstring(RENDERER.render(page_snapshot(), **params))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("aria-hidden") != "true"]


def fills(root: ET.Element) -> list[str]:
    return [r.get("fill") for r in root.iter(f"{SVG}rect")]


@pytest.mark.parametrize(
    ("status", "colour"),
    [
        (Status.OPERATIONAL, "#4c1"),
        (Status.DEGRADED, "#dfb317"),
        (Status.PARTIAL_OUTAGE, "#fe7d37"),
        (Status.MAJOR_OUTAGE, "#e05d44"),
        (Status.MAINTENANCE, "#007ec6"),
        (Status.NO_DATA, "#9f9f9f"),
    ],
)
def test_overall_badge_colour_and_text(status: Status, colour: str) -> None:
    root = ET.fromstring(RENDERER.render(page_snapshot(status=status)))
    message = STATUS_LABELS[status].lower()
    assert texts(root) == ["Example Homelab", message]
    assert colour in fills(root)
    assert root.find(f"{SVG}title").text == f"Example Homelab: {message}"
    assert root.get("aria-label") == f"Example Homelab: {message}"
    assert root.get("role") == "img"
    assert COLOURS[status] == colour


def test_component_badge_uses_its_public_name_and_state() -> None:
    root = badge(component="c-0b12e4")
    assert texts(root) == ["Public API", "major outage"]
    assert "#e05d44" in fills(root)


def test_unknown_component_is_the_routes_job_but_never_guessed() -> None:
    with pytest.raises(LookupError):
        RENDERER.render(page_snapshot(), component="nope")


def test_width_follows_the_text() -> None:
    short = ET.fromstring(RENDERER.render(page_snapshot(title="A")))
    long = ET.fromstring(RENDERER.render(page_snapshot(title="A much longer page title")))
    assert int(long.get("width")) - int(short.get("width")) == pytest.approx(
        text_width(" much longer page title"), abs=1.5
    )
    label_rect, message_rect = list(short.iter(f"{SVG}rect"))[1:3]
    assert int(label_rect.get("width")) + int(message_rect.get("width")) == int(short.get("width"))
    assert message_rect.get("x") == label_rect.get("width")


def test_empty_title_reads_status_and_long_title_is_shortened() -> None:
    assert texts(ET.fromstring(RENDERER.render(page_snapshot(title=""))))[0] == "status"
    label = texts(ET.fromstring(RENDERER.render(page_snapshot(title="x" * 200))))[0]
    assert len(label) == 48 and label.endswith("…")


def test_media_type() -> None:
    assert RENDERER.media_type == "image/svg+xml"
