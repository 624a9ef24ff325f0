"""Public snapshot types: everything a renderer may show, and nothing else.

These classes are the public wire types. They hold names, status words, times
and operator-written public text; they have no field that could carry a
monitor's URL, headers, credentials, nameserver, token or check message. A
renderer receives one of these and must not do I/O.

Status rules (documented in docs/status-page.md):

- component: an active maintenance window covering it → maintenance (dominates
  a real failure and an operator's word); else the worst of: the
  ``component_status`` of the active manual incidents concerning it (degraded,
  partial_outage or major_outage, the operator's word, shown even before a
  check), and, once checked, its thresholded state: tripped its failure
  threshold (an open incident) → major_outage, or degraded for a minor
  incident; else operational. No check yet and no operator's word → no_data.
- page: an active maintenance window touching the page → maintenance; else
  nothing checked yet → no_data; all components down → major_outage; some down
  or any in partial_outage → partial_outage; any degraded → degraded; else
  operational.
- history cell (one UTC day): no checks → no_data; a maintenance window
  overlapped the day (or a check was taken during one) → maintenance; else no
  down and no degraded → operational; degraded but no down → degraded; down in
  at most 5 % of the day's checks → partial_outage; more → major_outage.
- uptime (a cell's, and a component's over the 90 days): the percentage of the
  counted checks that answered (up or degraded). Failures during maintenance
  are planned and not counted: of a day's down checks, as many as were taken
  during maintenance are left out (:func:`counted_checks`). The rollups count
  checks in maintenance but not their outcome, so this is exact when the checks
  in maintenance failed (the case that matters) and never forgives more
  failures than checks were taken in a window. A day whose every check failed
  in maintenance has no uptime (``None``), not 100 %.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .models import Status

HISTORY_DAYS = 90
RECENT_INCIDENT_DAYS = 14
UPCOMING_MAINTENANCE_DAYS = 7
RECENT_MAINTENANCE_LIMIT = 50
PERMALINK_UPDATES = 50  # a permalink shows this many updates; older ones are a link away
PARTIAL_OUTAGE_MAX_DOWN_SHARE = 0.05

BANNER_LABELS: dict[Status, str] = {
    Status.OPERATIONAL: "All Systems Operational",
    Status.DEGRADED: "Degraded Performance",
    Status.PARTIAL_OUTAGE: "Partial Outage",
    Status.MAJOR_OUTAGE: "Major Outage",
    Status.MAINTENANCE: "Under Maintenance",
    Status.NO_DATA: "No Data Yet",
}

STATUS_LABELS: dict[Status, str] = {
    Status.OPERATIONAL: "Operational",
    Status.DEGRADED: "Degraded",
    Status.PARTIAL_OUTAGE: "Partial outage",
    Status.MAJOR_OUTAGE: "Major outage",
    Status.MAINTENANCE: "Maintenance",
    Status.NO_DATA: "No data",
}


@dataclass(frozen=True, slots=True)
class HistoryDay:
    date: dt.date  # UTC day
    status: Status
    # percent 0..100 of the counted checks that answered (up or degraded); None:
    # nothing counted (no checks, or only failures during maintenance)
    uptime: float | None
    checks: int  # every check of the day, those in maintenance included


@dataclass(frozen=True, slots=True)
class ComponentView:
    id: str  # opaque public id, stable across restarts; never the monitor id
    name: str
    group: str | None
    description: str | None
    status: Status
    updated_at: dt.datetime | None  # time of the latest check
    uptime: float | None  # percent over the 90 days' counted checks; None: none counted
    history: tuple[HistoryDay, ...]  # exactly HISTORY_DAYS, oldest first


@dataclass(frozen=True, slots=True)
class IncidentUpdateView:
    phase: str  # investigating | identified | monitoring | resolved | postmortem
    message: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    title: str  # public_title, or the automatic "<component> <status>" wording
    description: str | None  # public_description
    severity: str  # minor | major | critical
    status: str  # active | ended
    started_at: dt.datetime
    ended_at: dt.datetime | None
    components: tuple[str, ...]  # public names of the affected components on this page
    latest_update: IncidentUpdateView | None
    # Newest first: the full timeline on a page snapshot; on an IncidentPage, the
    # part of it that page shows (see IncidentPage.update_count).
    updates: tuple[IncidentUpdateView, ...]
    permalink: str  # absolute URL under the page's origin (see PageSnapshot.base_url)


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    id: int
    title: str
    description: str | None
    severity: str  # info | warning | critical
    status: str  # scheduled | active | completed | cancelled
    starts_at: dt.datetime
    ends_at: dt.datetime  # the planned end
    components: tuple[str, ...]  # public names of the covered components on this page
    # When it really ended: set once completed (before ends_at when completed early);
    # None while scheduled or active, and for a cancelled window.
    completed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PageSnapshot:
    slug: str
    title: str
    status: Status
    components: tuple[ComponentView, ...]  # ordered: groups by first sort_order, ungrouped last
    active_incidents: tuple[IncidentView, ...]
    recent_incidents: tuple[IncidentView, ...]  # ended within RECENT_INCIDENT_DAYS, newest first
    active_maintenance: tuple[MaintenanceView, ...]
    upcoming_maintenance: tuple[MaintenanceView, ...]  # starting within UPCOMING_MAINTENANCE_DAYS
    recent_maintenance: tuple[MaintenanceView, ...]  # up to 50, every state, newest start first
    generated_at: dt.datetime
    # This page's origin, for absolute links: server.public_base_url, or for a page
    # with a hostname, that hostname under the base URL's scheme, port and path.
    base_url: str
    page_url: str  # this page's absolute URL
    history_days: tuple[dt.date, ...] = field(default=())  # the 90 UTC days shown, oldest first

    @property
    def banner(self) -> str:
        return BANNER_LABELS[self.status]

    def groups(self) -> list[tuple[str | None, list[ComponentView]]]:
        """Components by group in display order, ungrouped last."""
        grouped: dict[str | None, list[ComponentView]] = {}
        for component in self.components:
            grouped.setdefault(component.group, []).append(component)
        ungrouped = grouped.pop(None, None)
        out: list[tuple[str | None, list[ComponentView]]] = list(grouped.items())
        if ungrouped:
            out.append((None, ungrouped))
        return out

    def component(self, public_id: str) -> ComponentView | None:
        return next((c for c in self.components if c.id == public_id), None)


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One incident's permalink page, on the page it was reached from, with that
    page's names.

    A long timeline is shown ``PERMALINK_UPDATES`` at a time: ``incident.updates``
    holds the part shown, ``older_url`` and ``newer_url`` link to the parts around it.
    """

    page_slug: str
    page_title: str
    page_url: str
    incident: IncidentView
    generated_at: dt.datetime
    update_count: int | None = None  # all updates; None: incident.updates is all of them
    newest_shown: int | None = None  # the number of the newest update shown (1: the first posted)
    older_url: str | None = None  # absolute; None: the oldest update is shown
    newer_url: str | None = None  # absolute; None: the newest update is shown


def counted_checks(checks: int, down: int, in_maintenance: int) -> int:
    """The checks a day's uptime is counted over: its failures during maintenance left out.

    The rollups say how many checks were taken during maintenance, not how they
    went, so at most that many failures are left out (all of them when every
    check in maintenance failed).
    """
    return checks - min(down, in_maintenance)


def uptime_percent(answered: int, counted: int) -> float | None:
    """Percent of the counted checks that answered; None when nothing was counted."""
    return answered / counted * 100 if counted > 0 else None


def history_status(checks: int, up: int, degraded: int, down: int, in_maintenance: int) -> Status:
    """The state of one history cell, by the rule in this module's docstring."""
    if checks == 0:
        return Status.NO_DATA
    if in_maintenance:
        return Status.MAINTENANCE
    if down == 0:
        return Status.DEGRADED if degraded else Status.OPERATIONAL
    if down / checks <= PARTIAL_OUTAGE_MAX_DOWN_SHARE:
        return Status.PARTIAL_OUTAGE
    return Status.MAJOR_OUTAGE


def overall_status(statuses: list[Status], *, maintenance_active: bool) -> Status:
    """The page's state: maintenance dominates; then the worst of the components.

    "All down" means every component, those without data included: one down and
    one not yet checked is a partial outage. A page where nothing has been
    checked yet is ``no_data`` rather than a claim that all is operational.
    """
    if maintenance_active:
        return Status.MAINTENANCE
    if all(s is Status.NO_DATA for s in statuses):
        return Status.NO_DATA
    down = sum(s is Status.MAJOR_OUTAGE for s in statuses)
    if down == len(statuses):
        return Status.MAJOR_OUTAGE
    if down or Status.PARTIAL_OUTAGE in statuses:
        return Status.PARTIAL_OUTAGE
    if Status.DEGRADED in statuses:
        return Status.DEGRADED
    return Status.OPERATIONAL
