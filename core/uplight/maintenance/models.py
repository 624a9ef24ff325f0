"""Maintenance windows as an operator (or a config entry) describes them and as stored.

Plain rows, shared by the store, the services and the admin API (which must not
import a store).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..db.sql import to_millis

STATUSES = ("scheduled", "active", "completed", "cancelled")
LIVE = ("scheduled", "active")


@dataclass(frozen=True)
class WindowFields:
    """What an operator (or a config entry) says about a window."""

    title: str
    description: str | None
    severity: str
    component_ids: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class StoredWindow:
    id: int
    title: str
    description: str | None
    severity: str
    component_ids: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str
    source: str
    config_id: str | None

    @property
    def fields(self) -> WindowFields:
        return WindowFields(
            self.title,
            self.description,
            self.severity,
            self.component_ids,
            self.starts_at,
            self.ends_at,
        )


@dataclass(frozen=True, slots=True)
class WindowPosition:
    """Where a page of a list ended: the keyset for the next page."""

    starts_at_ms: int
    id: int


def position_of(window: StoredWindow) -> WindowPosition:
    return WindowPosition(to_millis(window.starts_at), window.id)


@dataclass(frozen=True)
class ConfigOccurrence:
    """A materialised occurrence of a [[maintenance]] entry, whatever its status."""

    config_id: str
    occurrence_at: dt.datetime
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class PlannedConfigWindow:
    """A config window that has not started yet, with the fingerprint of its entry."""

    id: int
    config_id: str
    fingerprint: str | None
