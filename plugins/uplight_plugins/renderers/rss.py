"""The incident feed (``/api/public/v1/incidents.rss``), RSS 2.0.

One item per public incident (active, then the last 14 days), with the
incident's permalink as both ``link`` and ``guid``: the permalink never changes,
so feed readers see an update to an incident as the same item, not a new one.

Built with ElementTree, which escapes ``&``, ``<`` and ``>`` in text (so an
operator's ``]]>`` or ``<script>`` is inert); characters XML 1.0 forbids are
stripped first, because no escaping can make them well-formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from typing import Any, Unpack
from urllib.parse import quote

from uplight import IncidentPage, PageSnapshot, Renderer, RenderParams, hookimpl

ATOM = "http://www.w3.org/2005/Atom"

# Not allowed anywhere in an XML 1.0 document: C0 controls other than tab, LF
# and CR, lone surrogates, and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def rfc822(value: Any) -> str:
    return format_datetime(value, usegmt=True)


def _sub(parent: ET.Element, tag: str, text: str, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = xml_text(text)
    return element


def _item_text(incident: Any) -> str:
    """The item's description: the latest public word on the incident."""
    if incident.latest_update is not None:
        update = incident.latest_update
        return f"{update.phase.capitalize()}: {update.message}"
    if incident.description:
        return incident.description
    state = "resolved" if incident.ended_at else "ongoing"
    affected = ", ".join(incident.components)
    return f"{incident.severity.capitalize()} incident, {state}" + (
        f"; affects {affected}." if affected else "."
    )


class RssRenderer(Renderer):
    name = "rss"
    media_type = "application/rss+xml; charset=utf-8"
    description = "RSS 2.0 feed of the page's incidents, active and from the last 14 days"

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        if not isinstance(snapshot, PageSnapshot):
            raise TypeError(f"rss renderer cannot render {type(snapshot).__name__}")
        page = snapshot
        # A literal "atom:" prefix declared on the root: ElementTree's namespace
        # registry is process-global, and this keeps the output independent of it.
        rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM})
        channel = ET.SubElement(rss, "channel")
        _sub(channel, "title", f"{page.title} incidents")
        _sub(channel, "link", page.page_url)
        _sub(channel, "description", f"Incidents affecting {page.title}, from its status page.")
        feed_url = (
            f"{page.base_url.rstrip('/')}/api/public/v1/incidents.rss?page={quote(page.slug)}"
        )
        ET.SubElement(
            channel,
            "atom:link",
            {"href": xml_text(feed_url), "rel": "self", "type": "application/rss+xml"},
        )
        _sub(channel, "language", "en")
        _sub(channel, "lastBuildDate", rfc822(page.generated_at))
        _sub(channel, "generator", "uplight")
        _sub(channel, "ttl", "1")  # minutes: incidents move fast; readers may poll often
        for incident in (*page.active_incidents, *page.recent_incidents):
            item = ET.SubElement(channel, "item")
            suffix = " (resolved)" if incident.ended_at else ""
            _sub(item, "title", f"{incident.title}{suffix}")
            _sub(item, "link", incident.permalink)
            _sub(item, "guid", incident.permalink, isPermaLink="true")
            _sub(item, "pubDate", rfc822(incident.started_at))
            _sub(item, "description", _item_text(incident))
            _sub(item, "category", incident.severity)
        return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(RssRenderer)
