"""Factories for public snapshots with realistic data, for renderer tests.

Also a small HTML reader (``parse_html``) so tests assert on elements and
attributes rather than on substrings.

Renderers only ever see these frozen types, so their tests build them
directly: no database, no clock, every value chosen to exercise a rule (a
no_data stretch, a maintenance day, groups with an ungrouped tail).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from uplight import (
    HISTORY_DAYS,
    ComponentView,
    HistoryDay,
    IncidentPage,
    IncidentUpdateView,
    IncidentView,
    MaintenanceView,
    PageSnapshot,
    Status,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
BASE_URL = "https://status.example.org"


def history_days(today: dt.date | None = None) -> tuple[dt.date, ...]:
    """The 90 UTC days a page shows, oldest first, ending today."""
    today = today or NOW.date()
    return tuple(today - dt.timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1))


def history(
    *,
    first_data_day: int = 0,
    overrides: dict[int, Status] | None = None,
    today: dt.date | None = None,
) -> tuple[HistoryDay, ...]:
    """90 cells: no_data before ``first_data_day`` (index), then operational days.

    ``overrides`` maps a cell index (0 = oldest) to the state it should carry; the
    uptime figure follows the state so the cell reads consistently.
    """
    overrides = overrides or {}
    cells: list[HistoryDay] = []
    for index, day in enumerate(history_days(today)):
        if index < first_data_day:
            cells.append(HistoryDay(day, Status.NO_DATA, None, 0))
            continue
        state = overrides.get(index, Status.OPERATIONAL)
        uptime = {
            Status.NO_DATA: None,
            Status.OPERATIONAL: 100.0,
            Status.DEGRADED: 100.0,
            Status.PARTIAL_OUTAGE: 98.264,
            Status.MAJOR_OUTAGE: 61.5,
            Status.MAINTENANCE: 97.9,
        }[state]
        checks = 0 if state is Status.NO_DATA else 1440
        cells.append(HistoryDay(day, state, uptime, checks))
    return tuple(cells)


def component(
    public_id: str,
    name: str,
    *,
    group: str | None = None,
    description: str | None = None,
    status: Status = Status.OPERATIONAL,
    uptime: float | None = 99.981,
    cells: tuple[HistoryDay, ...] | None = None,
) -> ComponentView:
    return ComponentView(
        id=public_id,
        name=name,
        group=group,
        description=description,
        status=status,
        updated_at=None if status is Status.NO_DATA else NOW - dt.timedelta(seconds=20),
        uptime=None if status is Status.NO_DATA else uptime,
        history=cells if cells is not None else history(),
    )


def update(phase: str, message: str, minutes_ago: int) -> IncidentUpdateView:
    return IncidentUpdateView(phase, message, NOW - dt.timedelta(minutes=minutes_ago))


def incident(
    incident_id: int,
    title: str,
    *,
    severity: str = "major",
    ended: bool = False,
    components: Iterable[str] = ("Public API",),
    description: str | None = None,
    updates: Iterable[IncidentUpdateView] = (),
    started_minutes_ago: int = 45,
    page_slug: str = "main",
) -> IncidentView:
    timeline = tuple(sorted(updates, key=lambda u: u.created_at, reverse=True))
    started = NOW - dt.timedelta(minutes=started_minutes_ago)
    return IncidentView(
        id=incident_id,
        title=title,
        description=description,
        severity=severity,
        status="ended" if ended else "active",
        started_at=started,
        ended_at=started + dt.timedelta(minutes=30) if ended else None,
        components=tuple(components),
        latest_update=timeline[0] if timeline else None,
        updates=timeline,
        permalink=f"{BASE_URL}/status/incidents/{incident_id}",
    )


def maintenance(
    window_id: int,
    title: str,
    *,
    status: str = "scheduled",
    starts_in_hours: float = 24,
    hours: float = 2,
    severity: str = "info",
    components: Iterable[str] = ("Nextcloud",),
    description: str | None = None,
) -> MaintenanceView:
    starts = NOW + dt.timedelta(hours=starts_in_hours)
    return MaintenanceView(
        id=window_id,
        title=title,
        description=description,
        severity=severity,
        status=status,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=hours),
        components=tuple(components),
    )


def default_components() -> tuple[ComponentView, ...]:
    """Two groups in sort order, then ungrouped components last."""
    return (
        component(
            "c-7f3a9d",
            "Website",
            group="Public services",
            description="The homepage and blog",
            cells=history(first_data_day=30, overrides={70: Status.PARTIAL_OUTAGE}),
        ),
        component(
            "c-0b12e4",
            "Public API",
            group="Public services",
            status=Status.MAJOR_OUTAGE,
            uptime=98.5,
            cells=history(overrides={88: Status.MAJOR_OUTAGE, 89: Status.MAJOR_OUTAGE}),
        ),
        component(
            "c-5c44aa",
            "Nextcloud",
            group="Home",
            status=Status.DEGRADED,
            cells=history(overrides={60: Status.MAINTENANCE, 61: Status.DEGRADED}),
        ),
        component("c-91d0fe", "VPN", description="WireGuard for the family"),
        component("c-e2e2e2", "Printer", status=Status.NO_DATA, cells=history(first_data_day=90)),
    )


def page_snapshot(**changes: Any) -> PageSnapshot:
    """A realistic page: a partial outage, one active and one ended incident,
    maintenance running, upcoming and past. Keyword arguments replace fields."""
    snap = PageSnapshot(
        slug="main",
        title="Example Homelab",
        status=Status.PARTIAL_OUTAGE,
        components=default_components(),
        active_incidents=(
            incident(
                12,
                "Public API major outage",
                description="Requests to the API fail.",
                updates=(
                    update("investigating", "We are looking into failing requests.", 40),
                    update("identified", "A disk filled up on the API host.", 15),
                ),
            ),
        ),
        recent_incidents=(
            incident(
                9,
                "Website degraded",
                severity="minor",
                ended=True,
                components=("Website",),
                started_minutes_ago=60 * 30,
                updates=(update("resolved", "Response times are back to normal.", 60 * 29),),
            ),
        ),
        active_maintenance=(
            maintenance(
                4,
                "Nextcloud upgrade",
                status="active",
                starts_in_hours=-0.5,
                description="Upgrading to the next major version.",
            ),
        ),
        upcoming_maintenance=(
            maintenance(5, "Router firmware", starts_in_hours=30, components=("VPN",)),
        ),
        recent_maintenance=(
            maintenance(5, "Router firmware", starts_in_hours=30, components=("VPN",)),
            maintenance(4, "Nextcloud upgrade", status="active", starts_in_hours=-0.5),
            maintenance(2, "Disk swap", status="completed", starts_in_hours=-24 * 20),
            maintenance(1, "Cancelled move", status="cancelled", starts_in_hours=-24 * 40),
        ),
        generated_at=NOW,
        base_url=BASE_URL,
        page_url=f"{BASE_URL}/status",
        history_days=history_days(),
    )
    return dataclasses.replace(snap, **changes) if changes else snap


def incident_page(view: IncidentView | None = None) -> IncidentPage:
    snap = page_snapshot()
    return IncidentPage(
        page_slug=snap.slug,
        page_title=snap.title,
        page_url=snap.page_url,
        incident=view or snap.active_incidents[0],
        generated_at=NOW,
    )


# --- reading rendered HTML back, for assertions -------------------------------

VOID_TAGS = frozenset(
    {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""  # all text inside, descendants included, entities decoded

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs)))  # <path .../> in inline SVG

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data


def parse_html(markup: str | bytes) -> list[Element]:
    """Every element in document order, with its attributes and text content."""
    collector = _Collector()
    collector.feed(markup.decode() if isinstance(markup, bytes) else markup)
    collector.close()
    return collector.elements


def find_all(
    elements: list[Element], tag: str | None = None, cls: str | None = None
) -> list[Element]:
    return [
        e for e in elements if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
    ]
