"""The rss renderer: RSS 2.0 that feedparser reads cleanly, stable guids."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import feedparser
from snapshots import BASE_URL, incident, page_snapshot, update

from uplight_plugins.renderers.rss import RssRenderer

RENDERER = RssRenderer()


def feed(**changes: object) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(RENDERER.render(page_snapshot(**changes)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_channel() -> None:
    parsed = feed()
    assert parsed.version == "rss20"
    assert parsed.feed.title == "Example Homelab incidents"
    assert parsed.feed.link == f"{BASE_URL}/status"
    assert parsed.feed.description
    assert parsed.feed.updated_parsed[:5] == (2026, 11, 20, 10, 0)
    self_links = [link for link in parsed.feed.links if link.get("rel") == "self"]
    assert self_links[0].href == f"{BASE_URL}/api/public/v1/incidents.rss?page=main"
    assert RENDERER.media_type == "application/rss+xml; charset=utf-8"


def test_one_item_per_incident_with_permalink_guid() -> None:
    parsed = feed()
    assert [e.title for e in parsed.entries] == [
        "Public API major outage",
        "Website degraded (resolved)",
    ]
    for entry, incident_id in zip(parsed.entries, (12, 9), strict=True):
        permalink = f"{BASE_URL}/status/incidents/{incident_id}"
        assert entry.link == permalink
        assert entry.id == permalink
    # feedparser only reports guidislink when it had to borrow the link; read the XML.
    root = ET.fromstring(RENDERER.render(page_snapshot()))
    for guid in root.iter("guid"):
        assert guid.get("isPermaLink") == "true"
        assert guid.text.startswith(f"{BASE_URL}/status/incidents/")
    first = parsed.entries[0]
    assert first.published_parsed[:5] == (2026, 11, 20, 9, 15)
    assert first.summary == "Identified: A disk filled up on the API host."
    assert [t.term for t in first.tags] == ["major"]


def test_guids_are_stable_across_updates() -> None:
    before = feed()
    changed = page_snapshot().active_incidents[0]
    changed = dataclasses.replace(
        changed, latest_update=update("monitoring", "Fixed, watching.", 1)
    )
    after = feed(active_incidents=(changed,))
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert after.entries[0].summary == "Monitoring: Fixed, watching."


def test_description_falls_back_to_the_incident_text() -> None:
    described = incident(5, "Backups late", description="Nightly backup is running late.")
    bare = incident(6, "NAS major outage", components=("NAS",))
    parsed = feed(active_incidents=(described, bare), recent_incidents=())
    assert parsed.entries[0].summary == "Nightly backup is running late."
    assert parsed.entries[1].summary == "Major incident, ongoing; affects NAS."


def test_empty_feed_is_still_valid() -> None:
    parsed = feed(active_incidents=(), recent_incidents=())
    assert parsed.entries == []


def test_characters_xml_forbids_are_stripped() -> None:
    nasty = incident(7, "Bell\x07 and NUL\x00 and \x1b[31mANSI", updates=())
    body = RENDERER.render(page_snapshot(active_incidents=(nasty,), recent_incidents=()))
    root = ET.fromstring(body)  # raises on ill-formed XML
    assert root.find("channel/item/title").text == "Bell and NUL and [31mANSI"
