"""The public JSON status (``/api/public/v1/status.json``).

The shape is documented in docs/status-page.md. Keys keep the documented
order (dict insertion order) so the bytes are deterministic for a snapshot and
diffs between two fetches are readable.

Every URL in it (``page.url``, each incident's ``url``) is under the page's own
origin: ``server.public_base_url``, or the page's ``hostname`` when it has one.
A maintenance window's ``ends_at`` is its planned end and ``completed_at`` when
it really ended (earlier when completed early; ``null`` until it is completed,
and for a cancelled window).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any, Unpack

from uplight import IncidentPage, PageSnapshot, Renderer, RenderParams, hookimpl, isoformat_z

# Compact separators: the history makes this the largest public document.
# ensure_ascii=False keeps names readable; the bytes are UTF-8 either way.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _time(value: Any) -> str | None:
    return None if value is None else isoformat_z(value)


def _uptime(value: float | None) -> float | None:
    # Rounded down to 3 decimals: short, and 99.9996 never reads as 100.
    return None if value is None else math.floor(value * 1000) / 1000


def _update(update: Any) -> dict[str, Any] | None:
    if update is None:
        return None
    return {
        "phase": update.phase,
        "message": update.message,
        "created_at": _time(update.created_at),
    }


def _incident(incident: Any) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "status": incident.status,
        "started_at": _time(incident.started_at),
        "ended_at": _time(incident.ended_at),
        "components": list(incident.components),
        "latest_update": _update(incident.latest_update),
        "url": incident.permalink,
    }


def _maintenance(window: Any) -> dict[str, Any]:
    return {
        "id": window.id,
        "title": window.title,
        "description": window.description,
        "severity": window.severity,
        "status": window.status,
        "starts_at": _time(window.starts_at),
        "ends_at": _time(window.ends_at),
        "completed_at": _time(window.completed_at),
        "components": list(window.components),
    }


def _component(component: Any) -> dict[str, Any]:
    return {
        "id": component.id,
        "name": component.name,
        "group": component.group,
        "description": component.description,
        "status": component.status.value,
        "updated_at": _time(component.updated_at),
        "uptime": _uptime(component.uptime),
        "history": [
            {
                "date": day.date.isoformat(),
                "status": day.status.value,
                "uptime": _uptime(day.uptime),
                "checks": day.checks,
            }
            for day in component.history
        ],
    }


def status_document(page: PageSnapshot) -> dict[str, Any]:
    """The JSON document as Python data (also handy for tests and other renderers)."""
    return {
        "page": {"slug": page.slug, "title": page.title, "url": page.page_url},
        "status": page.status.value,
        "banner": page.banner,
        "generated_at": isoformat_z(page.generated_at),
        "components": [_component(c) for c in page.components],
        "incidents": {
            "active": [_incident(i) for i in page.active_incidents],
            "recent": [_incident(i) for i in page.recent_incidents],
        },
        "maintenance": {
            "active": [_maintenance(m) for m in page.active_maintenance],
            "upcoming": [_maintenance(m) for m in page.upcoming_maintenance],
            "recent": [_maintenance(m) for m in page.recent_maintenance],
        },
    }


class JsonRenderer(Renderer):
    name = "json"
    media_type = "application/json"
    description = "overall status, components with 90-day history, incidents, maintenance"

    def render(
        self, snapshot: PageSnapshot | IncidentPage | None, **params: Unpack[RenderParams]
    ) -> bytes:
        if not isinstance(snapshot, PageSnapshot):
            raise TypeError(f"json renderer cannot render {type(snapshot).__name__}")
        # A component at a time: encoded whole, the document (650 kB for 100
        # components) was some 200,000 small strings alive at once, and the memory
        # they were carved from stayed with the process (+3 MB of RSS per page).
        components = snapshot.components
        document = status_document(replace(snapshot, components=()))
        parts = []
        for key, value in document.items():
            if key == "components":
                text = "[" + ",".join(_encode(_component(c)) for c in components) + "]"
            else:
                text = _encode(value)
            parts.append(f"{_encode(key)}:{text}")
        return ("{" + ",".join(parts) + "}").encode()


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(JsonRenderer)
