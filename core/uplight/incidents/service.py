"""The operator's side of incidents: reading them, narrating them, posting timeline updates.

The engine opens and ends incidents from check results; the operator only tells
the story: a public title and description, a severity override, and timeline
updates. Narration has three states per field: absent is unchanged, a string
sets, ``None`` clears back to the automatic wording. Ended incidents accept
narration and updates too (a correction, a postmortem); whether that is news
for a channel is the notification router's call, not a refusal here.

Each write is one store transaction: the SQL, then the hooks the runtime gave
(notification outbox rows), so a change and what it queues commit or roll back
together. Time comes from the injected clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiosqlite

from ..clock import Clock
from ..db.store import Store
from ..text import forbidden_character, is_blank
from . import store as db_incidents
from .models import (
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
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_narration = on_narration
        self.on_update = on_update

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
        if phase not in PHASES:
            raise IncidentError(
                "INVALID_PHASE", f"must be one of: {', '.join(PHASES)}", field="phase"
            )
        if is_blank(message):
            raise IncidentError("EMPTY_MESSAGE", "must not be blank", field="message")
        _check_characters("message", message, multiline=True)
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
