"""The operator's side of incidents: reading them, narrating them, posting timeline
updates, and opening and resolving manual incidents.

The engine opens and ends automatic incidents from check results; of those the
operator only tells the story: a public title and description, a severity
override, and timeline updates. Narration has three states per field: absent is
unchanged, a string sets, ``None`` clears back to the automatic wording (a
manual incident has no automatic title: its title cannot be cleared). Ended
incidents accept narration and updates too (a correction, a postmortem);
whether that is news for a channel is the notification router's call, not a
refusal here.

A manual incident is for what no check sees (an ISP outage, a supplier's
problem): the operator opens it, naming the monitors it concerns (or a page, or
nothing: every page), and resolves it. Only manual incidents are resolved by
hand: an automatic one ends when its monitor's checks recover.

Each write is one store transaction: the SQL, then the hooks the runtime gave
(notification outbox rows), so a change and what it queues commit or roll back
together. Time comes from the injected clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import aiosqlite

from ..clock import Clock
from ..db.store import Store
from ..text import forbidden_character, is_blank
from . import store as db_incidents
from .models import (
    COMPONENT_STATUSES,
    NARRATION_FIELDS,
    PHASES,
    SEVERITIES,
    Incident,
    IncidentPosition,
    IncidentUpdate,
    position_of,
)

# Called inside a narration's transaction with the incident before and after it.
NarrationHook = Callable[[aiosqlite.Connection, Incident, Incident], Awaitable[None]]
# Called inside a timeline update's transaction with the incident and the new update.
UpdateHook = Callable[[aiosqlite.Connection, Incident, IncidentUpdate], Awaitable[None]]
# Called inside the transaction that opens or resolves a manual incident, with the
# incident as committed (its ``latest_update``: the first or final update, if any).
ManualHook = Callable[[aiosqlite.Connection, Literal["opened", "ended"], Incident], Awaitable[None]]
# The monitors a page shows, by slug; None: no such page.
PageMonitors = Callable[[str], frozenset[str] | None]


class IncidentNotFound(Exception):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident {incident_id}")
        self.incident_id = incident_id


class IncidentError(Exception):
    """A request the rules refuse (422 on the API), with the field it is about."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class IncidentConflict(IncidentError):
    """A request the incident's state refuses (409 on the API): resolving an automatic
    incident (``INCIDENT_AUTOMATIC``) or one already ended (``INCIDENT_ENDED``)."""


@dataclass(frozen=True, slots=True)
class ManualIncidentFields:
    """What an operator says when opening a manual incident (``phase`` and ``message``:
    its first timeline update; a message alone is ``investigating``)."""

    public_title: str
    public_description: str | None = None
    severity: str = "minor"
    component_ids: tuple[str, ...] = ()
    page: str | None = None
    component_status: str | None = None
    phase: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentPage:
    items: list[Incident]
    next: IncidentPosition | None  # where the next page starts; None on the last page


class IncidentService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        on_narration: NarrationHook | None = None,
        on_update: UpdateHook | None = None,
        on_manual: ManualHook | None = None,
        monitor_ids: Iterable[str] = (),
        page_monitors: PageMonitors = lambda slug: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_narration = on_narration
        self.on_update = on_update
        self.on_manual = on_manual
        self.monitor_ids = frozenset(monitor_ids)  # what component_ids may name
        self.page_monitors = page_monitors

    # -- reads -------------------------------------------------------------------

    async def list_incidents(
        self,
        *,
        active: bool | None = None,
        monitor_id: str | None = None,
        since: dt.datetime | None = None,
        after: IncidentPosition | None = None,
        limit: int = 50,
    ) -> IncidentPage:
        """Newest start first. ``since``: incidents still active at or after that time."""
        # One more than asked tells whether there is a next page without counting.
        found = await db_incidents.list_incidents(
            self.store,
            active=active,
            monitor_id=monitor_id,
            since=since,
            after=after,
            limit=limit + 1,
        )
        items = found[:limit]
        more = len(found) > limit and bool(items)
        return IncidentPage(items, position_of(items[-1]) if more else None)

    async def get_incident(self, incident_id: int) -> Incident:
        incident = await db_incidents.get_incident(self.store, incident_id)
        if incident is None:
            raise IncidentNotFound(incident_id)
        return incident

    async def timeline(self, incident_id: int) -> list[IncidentUpdate]:
        """The incident's updates, newest first."""
        return await db_incidents.incident_updates(self.store, incident_id)

    # -- operator writes -----------------------------------------------------------

    async def narrate(self, incident_id: int, changes: Mapping[str, str | None]) -> Incident:
        """Set (a string) or clear (``None``) narration fields; the rest stay as they are.

        Returns the incident as committed. ``on_narration`` sees it before and after,
        inside the transaction (a severity change's outbox rows).
        """
        _check_narration(changes)
        at = self.clock.now()

        async def write(db: aiosqlite.Connection) -> Incident:
            before = await db_incidents.incident_in(db, incident_id)
            if before is None:
                raise IncidentNotFound(incident_id)
            if before.manual and "public_title" in changes and changes["public_title"] is None:
                raise IncidentError(
                    "EMPTY_TITLE",
                    "a manual incident has no automatic title to fall back to",
                    field="public_title",
                )
            if changes:
                await db_incidents.set_narration(db, incident_id, dict(changes), at)
            after = await db_incidents.incident_in(db, incident_id)
            assert after is not None  # the same transaction read it a moment ago
            if self.on_narration is not None:
                await self.on_narration(db, before, after)
            return after

        incident: Incident = await self.store.write(write)
        return incident

    async def add_update(
        self, incident_id: int, *, phase: str, message: str, created_by: str | None
    ) -> IncidentUpdate:
        """Append to the timeline. Posting ``resolved`` does not end the incident: check
        results do. ``on_update`` runs inside the transaction (outbox rows)."""
        _check_update(phase, message)
        at = self.clock.now()

        async def write(db: aiosqlite.Connection) -> IncidentUpdate:
            incident = await db_incidents.incident_in(db, incident_id)
            if incident is None:
                raise IncidentNotFound(incident_id)
            update = await db_incidents.insert_update(
                db, incident_id, phase=phase, message=message, created_by=created_by, at=at
            )
            if self.on_update is not None:
                await self.on_update(db, incident, update)
            return update

        update: IncidentUpdate = await self.store.write(write)
        return update

    # -- manual incidents ------------------------------------------------------------

    async def open_manual(
        self, fields: ManualIncidentFields, *, created_by: str | None
    ) -> Incident:
        """Open a manual incident now, with its first update if one is given; the
        ``on_manual`` hook (the ``incident_opened`` outbox rows) runs in the same
        transaction."""
        self._check_manual(fields)
        phase = fields.phase or ("investigating" if fields.message is not None else None)
        at = self.clock.now()

        async def write(db: aiosqlite.Connection) -> Incident:
            incident_id = await db_incidents.insert_manual_incident(
                db,
                public_title=fields.public_title,
                public_description=fields.public_description,
                severity=fields.severity,
                component_ids=tuple(dict.fromkeys(fields.component_ids)),
                page=fields.page,
                component_status=fields.component_status,
                at=at,
            )
            if phase is not None and fields.message is not None:
                await db_incidents.insert_update(
                    db,
                    incident_id,
                    phase=phase,
                    message=fields.message,
                    created_by=created_by,
                    at=at,
                )
            incident = await db_incidents.incident_in(db, incident_id)
            assert incident is not None  # inserted a moment ago in this transaction
            if self.on_manual is not None:
                await self.on_manual(db, "opened", incident)
            return incident

        incident: Incident = await self.store.write(write)
        return incident

    async def resolve(
        self,
        incident_id: int,
        *,
        message: str | None = None,
        phase: str = "resolved",
        created_by: str | None,
    ) -> Incident:
        """End a manual incident now, with a final update if ``message`` is given.

        An automatic incident is refused (``INCIDENT_AUTOMATIC``): its checks end it.
        An ended one is refused too (``INCIDENT_ENDED``): resolving is not idempotent
        here because the final update would otherwise be lost or doubled silently.
        """
        if message is not None:
            _check_update(phase, message)
        at = self.clock.now()

        async def write(db: aiosqlite.Connection) -> Incident:
            current = await db_incidents.incident_in(db, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
            if not current.manual:
                raise IncidentConflict(
                    "INCIDENT_AUTOMATIC",
                    f"incident {incident_id} was opened by the checks of monitor"
                    f" {current.monitor_id!r} and ends when they recover;"
                    " only a manual incident is resolved by hand",
                )
            if current.ended_at is not None:
                raise IncidentConflict(
                    "INCIDENT_ENDED",
                    f"incident {incident_id} already ended at"
                    f" {current.ended_at.isoformat().replace('+00:00', 'Z')}",
                )
            if message is not None:
                await db_incidents.insert_update(
                    db, incident_id, phase=phase, message=message, created_by=created_by, at=at
                )
            await db_incidents.mark_ended(db, incident_id, max(at, current.started_at))
            ended = await db_incidents.incident_in(db, incident_id)
            assert ended is not None  # read a moment ago in this transaction
            if self.on_manual is not None:
                await self.on_manual(db, "ended", ended)
            return ended

        incident: Incident = await self.store.write(write)
        return incident

    def _check_manual(self, fields: ManualIncidentFields) -> None:
        """The rules of a new manual incident, each refusal naming its field."""
        if is_blank(fields.public_title):
            raise IncidentError("EMPTY_TITLE", "must not be blank", field="public_title")
        _check_narration(
            {
                "public_title": fields.public_title,
                "public_description": fields.public_description,
                "severity": fields.severity,
            }
        )
        if fields.component_status is not None and (
            fields.component_status not in COMPONENT_STATUSES
        ):
            raise IncidentError(
                "INVALID_COMPONENT_STATUS",
                f"must be one of: {', '.join(COMPONENT_STATUSES)}",
                field="component_status",
            )
        on_page: frozenset[str] | None = None
        if fields.page is not None:
            on_page = self.page_monitors(fields.page)
            if on_page is None:
                raise IncidentError(
                    "INVALID_PAGE", f"no page has slug {fields.page!r}", field="page"
                )
        for index, monitor_id in enumerate(fields.component_ids):
            field = f"component_ids[{index}]"
            if monitor_id not in self.monitor_ids:
                raise IncidentError(
                    "INVALID_COMPONENT_ID", f"no monitor has id {monitor_id!r}", field=field
                )
            if on_page is not None and monitor_id not in on_page:
                raise IncidentError(
                    "COMPONENT_NOT_ON_PAGE",
                    f"monitor {monitor_id!r} is not a component of page {fields.page!r}",
                    field=field,
                )
        if fields.phase is not None and fields.message is None:
            raise IncidentError(
                "MISSING_FIELD", "a first update's phase needs its message", field="message"
            )
        if fields.message is not None:
            _check_update(fields.phase or "investigating", fields.message)


def _check_update(phase: str, message: str) -> None:
    if phase not in PHASES:
        raise IncidentError("INVALID_PHASE", f"must be one of: {', '.join(PHASES)}", field="phase")
    if is_blank(message):
        raise IncidentError("EMPTY_MESSAGE", "must not be blank", field="message")
    _check_characters("message", message, multiline=True)


def _check_narration(changes: Mapping[str, str | None]) -> None:
    for name, value in changes.items():
        if name not in NARRATION_FIELDS:
            raise IncidentError("UNKNOWN_FIELD", "not a narration field", field=name)
        if name == "severity" and value is not None and value not in SEVERITIES:
            raise IncidentError(
                "INVALID_SEVERITY", f"must be one of: {', '.join(SEVERITIES)}", field=name
            )
        if name == "public_title" and value is not None and is_blank(value):
            raise IncidentError("EMPTY_TITLE", "must not be blank", field=name)
        if name in ("public_title", "public_description") and value is not None:
            _check_characters(name, value, multiline=name == "public_description")


def _check_characters(field: str, text: str, *, multiline: bool) -> None:
    # The API's models refuse these first; the rule holds for any other caller too.
    problem = forbidden_character(text, multiline=multiline)
    if problem is not None:
        raise IncidentError("INVALID_CHARACTER", problem, field=field)
