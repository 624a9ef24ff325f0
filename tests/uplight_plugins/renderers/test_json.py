"""The json renderer: the documented shape, 90-day history, deterministic bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

from snapshots import NOW, component, history, page_snapshot

from uplight import BANNER_LABELS, HISTORY_DAYS, Status, isoformat_z
from uplight_plugins.renderers.json import JsonRenderer, status_document

RENDERER = JsonRenderer()
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

INCIDENT_KEYS = [
    "id",
    "title",
    "description",
    "severity",
    "status",
    "started_at",
    "ended_at",
    "components",
    "latest_update",
    "url",
]
MAINTENANCE_KEYS = [
    "id",
    "title",
    "description",
    "severity",
    "status",
    "starts_at",
    "ends_at",
    "completed_at",
    "components",
]


def document(**changes: object) -> dict:
    return json.loads(RENDERER.render(page_snapshot(**changes)))


def test_top_level_shape() -> None:
    doc = document()
    assert list(doc) == [
        "page",
        "status",
        "banner",
        "generated_at",
        "components",
        "incidents",
        "maintenance",
    ]
    assert doc["page"] == {
        "slug": "main",
        "title": "Example Homelab",
        "url": "https://status.example.org/status",
    }
    assert doc["status"] == "partial_outage"
    assert doc["banner"] == BANNER_LABELS[Status.PARTIAL_OUTAGE]
    assert doc["generated_at"] == "2026-11-20T10:00:00Z"
    assert list(doc["incidents"]) == ["active", "recent"]
    assert list(doc["maintenance"]) == ["active", "upcoming", "recent"]


def test_components_carry_state_and_exactly_90_days() -> None:
    doc = document()
    names = [c["name"] for c in doc["components"]]
    assert names == ["Website", "Public API", "Nextcloud", "VPN", "Printer"]  # display order
    api = doc["components"][1]
    assert list(api) == [
        "id",
        "name",
        "group",
        "description",
        "status",
        "updated_at",
        "uptime",
        "history",
    ]
    assert api["id"] == "c-0b12e4"
    assert api["group"] == "Public services"
    assert api["status"] == "major_outage"
    assert ISO_Z.match(api["updated_at"])
    assert api["uptime"] == 98.5
    for comp in doc["components"]:
        assert len(comp["history"]) == HISTORY_DAYS
        dates = [day["date"] for day in comp["history"]]
        assert dates == sorted(dates) and dates[-1] == NOW.date().isoformat()
        for day in comp["history"]:
            assert list(day) == ["date", "status", "uptime", "checks"]
    website = doc["components"][0]["history"]
    assert website[0] == {"date": "2026-08-23", "status": "no_data", "uptime": None, "checks": 0}
    assert website[70]["status"] == "partial_outage" and website[70]["uptime"] == 98.264
    printer = doc["components"][4]
    assert printer["status"] == "no_data"
    assert printer["uptime"] is None and printer["updated_at"] is None


def test_uptime_is_rounded_down_never_up_to_100() -> None:
    comp = component("x", "X", uptime=99.99996, cells=history())
    doc = document(components=(comp,))
    assert doc["components"][0]["uptime"] == 99.999


def test_incidents_and_maintenance_entries() -> None:
    doc = document()
    (active,) = doc["incidents"]["active"]
    assert list(active) == INCIDENT_KEYS
    assert active["title"] == "Public API major outage"
    assert active["status"] == "active" and active["ended_at"] is None
    assert active["components"] == ["Public API"]
    assert active["latest_update"] == {
        "phase": "identified",
        "message": "A disk filled up on the API host.",
        "created_at": "2026-11-20T09:45:00Z",
    }
    assert active["url"] == "https://status.example.org/status/incidents/12"
    (recent,) = doc["incidents"]["recent"]
    assert recent["status"] == "ended" and ISO_Z.match(recent["ended_at"])
    for key in ("active", "upcoming", "recent"):
        for window in doc["maintenance"][key]:
            assert list(window) == MAINTENANCE_KEYS
            assert ISO_Z.match(window["starts_at"]) and ISO_Z.match(window["ends_at"])
    assert [w["status"] for w in doc["maintenance"]["recent"]] == [
        "scheduled",
        "active",
        "completed",
        "cancelled",
    ]


def test_a_window_completed_early_publishes_when_it_ended() -> None:
    """Issue 10, point 13: ``ends_at`` is the plan, ``completed_at`` the real end."""
    snap = page_snapshot()
    window = snap.recent_maintenance[2]
    early = dataclasses.replace(window, completed_at=window.ends_at - dt.timedelta(minutes=11))
    doc = document(recent_maintenance=(snap.recent_maintenance[0], early))
    scheduled, completed = doc["maintenance"]["recent"]
    assert scheduled["completed_at"] is None
    assert completed["status"] == "completed"
    assert completed["ends_at"] == isoformat_z(window.ends_at)
    assert completed["completed_at"] == isoformat_z(window.ends_at - dt.timedelta(minutes=11))


def test_incident_without_updates_has_null_latest_update() -> None:
    snap = page_snapshot()
    bare = dataclasses.replace(snap.active_incidents[0], latest_update=None, updates=())
    doc = json.loads(RENDERER.render(page_snapshot(active_incidents=(bare,))))
    assert doc["incidents"]["active"][0]["latest_update"] is None


def test_bytes_are_deterministic_and_utf8() -> None:
    snap = page_snapshot(title="Café status ☕")
    first, second = RENDERER.render(snap), RENDERER.render(snap)
    assert first == second
    assert "Café status ☕".encode() in first
    assert RENDERER.media_type.startswith("application/json")


def test_bytes_are_the_whole_document_encoded_at_once() -> None:
    # The renderer encodes a component at a time (less memory held at once); the
    # bytes must be exactly those of encoding the whole document in one call.
    for snap in (page_snapshot(title="Café ☕"), page_snapshot(components=())):
        whole = json.dumps(status_document(snap), ensure_ascii=False, separators=(",", ":"))
        assert RENDERER.render(snap) == whole.encode()
