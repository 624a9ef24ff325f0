"""Operator-written text is inert everywhere: HTML, fragment, permalink, RSS, SVG, JSON.

Titles, updates and names are typed by people (or pasted from somewhere); a
``<script>``, stray quotes or a ``]]>`` must come out as the same text, never
as markup.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import feedparser
import pytest
from snapshots import (
    component,
    find_all,
    incident,
    incident_page,
    page_snapshot,
    parse_html,
    update,
)

from uplight import PageSnapshot
from uplight_plugins.renderers.badge import BadgeRenderer
from uplight_plugins.renderers.html import HtmlRenderer
from uplight_plugins.renderers.json import JsonRenderer
from uplight_plugins.renderers.rss import RssRenderer

TITLE = "<script>alert(1)</script> \"quotes' ]]> & <b>bold</b>"
MESSAGE = (
    "Fixed <script>alert('x')</script> \"really\" ]]><![CDATA[ &amp; <img src=x onerror=alert(2)>"
)
NAME = "DB\"><script>alert(3)</script>'"


def evil_snapshot() -> PageSnapshot:
    evil = incident(
        66,
        TITLE,
        components=(NAME,),
        description=TITLE,
        updates=(update("identified", MESSAGE, 5),),
    )
    return page_snapshot(
        title=f"Page {TITLE}",
        components=(
            component("c-evil", NAME, group=TITLE, description=MESSAGE),
            component("c-fine", "Fine"),
        ),
        active_incidents=(evil,),
        recent_incidents=(),
    )


def assert_no_live_markup(markup: str) -> None:
    elements = parse_html(markup)
    assert "<script>alert" not in markup
    assert "<b>bold" not in markup and "<img" not in markup
    for element in elements:
        assert element.tag not in ("b", "img")
        assert not [a for a in element.attrs if a.startswith("on")]
    for script in find_all(elements, "script"):
        assert script.attrs.get("src", "").startswith("/assets/html/status.js")


@pytest.mark.parametrize("view", ["page", "fragment"])
def test_html_page_and_fragment(view: str) -> None:
    markup = HtmlRenderer().render(evil_snapshot(), view=view).decode()
    assert_no_live_markup(markup)
    elements = parse_html(markup)
    # The text round-trips: escaped on the way out, the same words on the way in.
    (link,) = [e for e in find_all(elements, "a") if e.attrs.get("href") == "/status/incidents/66"]
    assert link.text == TITLE
    assert MESSAGE in find_all(elements, "p", "update")[0].text
    assert find_all(elements, "h3", "group-name")[0].text == TITLE
    history = find_all(elements, "div", "history")[0]
    assert history.attrs["aria-label"] == f"{NAME}: the last 90 days"  # quotes stay inside
    assert find_all(elements, "span", "name")[0].text == NAME


def test_html_incident_page() -> None:
    snap = evil_snapshot()
    markup = HtmlRenderer().render(incident_page(snap.active_incidents[0])).decode()
    assert_no_live_markup(markup)
    elements = parse_html(markup)
    assert find_all(elements, "h1")[0].text == TITLE
    assert find_all(elements, "title")[0].text.startswith(TITLE)
    assert find_all(elements, "p", "message")[0].text == MESSAGE


def test_rss() -> None:
    body = RssRenderer().render(evil_snapshot())
    assert b"<script>" not in body and b"<b>" not in body
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
    root = ET.fromstring(body)
    item = root.find("channel/item")
    assert item.find("title").text == TITLE
    assert item.find("description").text == f"Identified: {MESSAGE}"
    assert root.find("channel/title").text == f"Page {TITLE} incidents"


@pytest.mark.parametrize("component_id", [None, "c-evil"])
def test_svg_badge(component_id: str | None) -> None:
    body = BadgeRenderer().render(evil_snapshot(), component=component_id)
    assert b"<script>" not in body
    root = ET.fromstring(body)
    ns = "{http://www.w3.org/2000/svg}"
    expected = NAME if component_id else f"Page {TITLE}"[:47] + "…"
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert labels[0] == expected
    assert root.find(f"{ns}title").text.startswith(expected)
    assert root.get("aria-label").startswith(expected)
    # Nothing but the badge's own elements: no script, no foreignObject, no handlers.
    tags = {el.tag.removeprefix(ns) for el in root.iter()}
    assert tags <= {"svg", "title", "linearGradient", "stop", "clipPath", "rect", "g", "text"}
    assert not [k for el in root.iter() for k in el.attrib if k.startswith("on")]


def test_json_round_trips_the_text() -> None:
    doc = json.loads(JsonRenderer().render(evil_snapshot()))
    (active,) = doc["incidents"]["active"]
    assert active["title"] == TITLE
    assert active["latest_update"]["message"] == MESSAGE
    assert doc["components"][0]["name"] == NAME
