"""Incidents and their timeline updates: schema, row mapping and intent-named queries.

An automatic incident belongs to one monitor: the engine owns its lifecycle
(opened, severity raised, ended). A manual incident belongs to no monitor (its
``monitor_id`` is ``NO_MONITOR``) and concerns the monitors in
``incident_components``, or a whole page, or every page: the service opens and
resolves it. The service also owns the operator's narration (public title,
description, severity override, timeline updates). Both compose the writes
below inside their own transactions. The row types live in ``models``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store
from .models import MAX_ID, NO_MONITOR, Incident, IncidentPosition, IncidentUpdate


async def m003_incidents(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            monitor_id TEXT NOT NULL,
            monitor_name TEXT NOT NULL,              -- as named when it opened: the auto title
            auto_severity TEXT NOT NULL CHECK (auto_severity IN ('minor', 'major', 'critical')),
            severity_override TEXT CHECK (severity_override IN ('minor', 'major', 'critical')),
            public_title TEXT,                       -- NULL: the auto title is shown
            public_description TEXT,
            started_at INTEGER NOT NULL,             -- unix milliseconds, UTC
            ended_at INTEGER,                        -- NULL while active
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX incidents_by_start ON incidents (started_at, id);
        CREATE INDEX incidents_by_monitor ON incidents (monitor_id, started_at);
        -- The engine's invariant, enforced where it cannot be raced: one open incident per monitor.
        CREATE UNIQUE INDEX incidents_one_active ON incidents (monitor_id) WHERE ended_at IS NULL;

        CREATE TABLE incident_updates (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            phase TEXT NOT NULL CHECK (phase IN
                ('investigating', 'identified', 'monitoring', 'resolved', 'postmortem')),
            message TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            created_by TEXT                          -- the API token's name
        );
        CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id, id);
        """,
    )


async def m008_manual_incidents(db: aiosqlite.Connection) -> None:
    """Incidents an operator opens for what no check sees. Existing rows are automatic."""
    await run_script(
        db,
        """
        ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'automatic'
            CHECK (kind IN ('automatic', 'manual'));
        ALTER TABLE incidents ADD COLUMN page TEXT;  -- manual: the page slug it concerns
        ALTER TABLE incidents ADD COLUMN component_status TEXT
            CHECK (component_status IN ('degraded', 'partial_outage', 'major_outage'));
        -- One open incident per monitor stays the engine's invariant; a manual incident
        -- has no monitor (monitor_id is ''), and any number of them may be open.
        DROP INDEX incidents_one_active;
        CREATE UNIQUE INDEX incidents_one_active ON incidents (monitor_id)
            WHERE ended_at IS NULL AND kind = 'automatic';
        CREATE INDEX incidents_by_kind ON incidents (kind, ended_at);

        CREATE TABLE incident_components (
            incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            monitor_id TEXT NOT NULL,
            position INTEGER NOT NULL,               -- keeps component_ids in the given order
            PRIMARY KEY (incident_id, monitor_id)
        ) WITHOUT ROWID;
        CREATE INDEX incident_components_by_monitor ON incident_components (monitor_id);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m003_incidents, m008_manual_incidents)


_INCIDENT_COLUMNS = (
    "id, monitor_id, monitor_name, auto_severity, severity_override, public_title,"
    " public_description, started_at, ended_at, updated_at, kind, page, component_status"
)
_UPDATE_COLUMNS = "id, incident_id, phase, message, created_at, created_by"


def _incident(
    row: Sequence[Any],
    latest: IncidentUpdate | None = None,
    components: dict[int, tuple[str, ...]] | None = None,
) -> Incident:
    return Incident(
        id=row[0],
        monitor_id=row[1],
        monitor_name=row[2],
        auto_severity=row[3],
        severity_override=row[4],
        public_title=row[5],
        public_description=row[6],
        started_at=from_millis(row[7]),
        ended_at=None if row[8] is None else from_millis(row[8]),
        updated_at=from_millis(row[9]),
        latest_update=latest,
        kind=row[10],
        page=row[11],
        component_status=row[12],
        component_ids=(components or {}).get(row[0], ()),
    )


def _update(row: Sequence[Any]) -> IncidentUpdate:
    return IncidentUpdate(row[0], row[1], row[2], row[3], from_millis(row[4]), row[5])


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


# A query runner: the store's read connection, or a write transaction's connection.
_Fetch = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]


async def _components(fetch: _Fetch, rows: Iterable[Sequence[Any]]) -> dict[int, tuple[str, ...]]:
    """The component_ids of the manual incidents among ``rows``, in their given order."""
    ids = [row[0] for row in rows if row[10] == "manual"]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    found: dict[int, list[str]] = {}
    for incident_id, monitor_id in await fetch(
        f"SELECT incident_id, monitor_id FROM incident_components WHERE incident_id IN ({marks})"
        " ORDER BY incident_id, position",
        ids,
    ):
        found.setdefault(incident_id, []).append(monitor_id)
    return {incident_id: tuple(monitors) for incident_id, monitors in found.items()}


async def _incidents(
    fetch: _Fetch, rows: list[Any], latest: dict[int, IncidentUpdate] | None = None
) -> list[Incident]:
    components = await _components(fetch, rows)
    return [_incident(row, (latest or {}).get(row[0]), components) for row in rows]


# -- engine writes (inside the caller's transaction) ----------------------------


async def insert_incident(
    db: aiosqlite.Connection,
    *,
    monitor_id: str,
    monitor_name: str,
    severity: str,
    started_at: dt.datetime,
    at: dt.datetime,
) -> int:
    cursor = await db.execute(
        "INSERT INTO incidents (monitor_id, monitor_name, auto_severity, started_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (monitor_id, monitor_name, severity, to_millis(started_at), to_millis(at)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def insert_manual_incident(
    db: aiosqlite.Connection,
    *,
    public_title: str,
    public_description: str | None,
    severity: str,
    component_ids: Sequence[str],
    page: str | None,
    component_status: str | None,
    at: dt.datetime,
) -> int:
    cursor = await db.execute(
        "INSERT INTO incidents (monitor_id, monitor_name, auto_severity, public_title,"
        " public_description, started_at, updated_at, kind, page, component_status)"
        " VALUES (?, '', ?, ?, ?, ?, ?, 'manual', ?, ?)",
        (
            NO_MONITOR,
            severity,
            public_title,
            public_description,
            to_millis(at),
            to_millis(at),
            page,
            component_status,
        ),
    )
    assert cursor.lastrowid is not None
    incident_id = cursor.lastrowid
    await db.executemany(
        "INSERT INTO incident_components (incident_id, monitor_id, position) VALUES (?, ?, ?)",
        [(incident_id, monitor_id, i) for i, monitor_id in enumerate(component_ids)],
    )
    return incident_id


async def incident_in(db: aiosqlite.Connection, incident_id: int) -> Incident | None:
    """Read an incident inside a write transaction (what it is right now)."""
    if not 0 < incident_id <= MAX_ID:
        return None
    rows = await _rows(
        db, f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
    )
    if not rows:
        return None
    latest = await _rows(
        db,
        f"SELECT {_UPDATE_COLUMNS} FROM incident_updates WHERE incident_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (incident_id,),
    )
    (incident,) = await _incidents(
        functools.partial(_rows, db), rows, {incident_id: _update(latest[0])} if latest else None
    )
    return incident


async def set_auto_severity(
    db: aiosqlite.Connection,
    incident_id: int,
    severity: str,
    at: dt.datetime,
    *,
    clear_override: bool,
) -> None:
    await db.execute(
        "UPDATE incidents SET auto_severity = ?, updated_at = ?"
        + (", severity_override = NULL" if clear_override else "")
        + " WHERE id = ?",
        (severity, to_millis(at), incident_id),
    )


async def mark_ended(db: aiosqlite.Connection, incident_id: int, at: dt.datetime) -> None:
    await db.execute(
        "UPDATE incidents SET ended_at = ?, updated_at = ? WHERE id = ? AND ended_at IS NULL",
        (to_millis(at), to_millis(at), incident_id),
    )


# -- operator writes (inside the service's transaction) -----------------------------

# The columns the operator narrates, by the name the API and the service use.
NARRATION_COLUMNS = {
    "public_title": "public_title",
    "public_description": "public_description",
    "severity": "severity_override",
}


async def set_narration(
    db: aiosqlite.Connection, incident_id: int, changes: dict[str, str | None], at: dt.datetime
) -> None:
    """Set (a string) or clear (``None``) the named narration fields; the rest stay."""
    if not changes:
        return
    sets = ", ".join(f"{NARRATION_COLUMNS[name]} = ?" for name in changes)
    await db.execute(
        f"UPDATE incidents SET {sets}, updated_at = ? WHERE id = ?",
        (*changes.values(), to_millis(at), incident_id),
    )


async def insert_update(
    db: aiosqlite.Connection,
    incident_id: int,
    *,
    phase: str,
    message: str,
    created_by: str | None,
    at: dt.datetime,
) -> IncidentUpdate:
    """Append to the timeline; the incident's ``updated_at`` never goes back."""
    cursor = await db.execute(
        "INSERT INTO incident_updates (incident_id, phase, message, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?)",
        (incident_id, phase, message, to_millis(at), created_by),
    )
    await db.execute(
        # CASE for SQLite's two-argument max(), which PostgreSQL lacks.
        "UPDATE incidents SET updated_at = CASE WHEN updated_at > ? THEN updated_at ELSE ? END"
        " WHERE id = ?",
        (to_millis(at), to_millis(at), incident_id),
    )
    assert cursor.lastrowid is not None
    return IncidentUpdate(cursor.lastrowid, incident_id, phase, message, at, created_by)


# -- reads -------------------------------------------------------------------------


async def active_incidents(store: Store) -> list[Incident]:
    """Every automatic incident not ended yet (the engine restores these at start).

    Manual ones are left out: they follow no monitor's checks, so neither the
    engine nor the monitor-based reminders have anything to do with them.
    """
    rows = await store.fetchall(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents"
        " WHERE ended_at IS NULL AND kind = 'automatic' ORDER BY id"
    )
    return [_incident(row) for row in rows]


async def get_incident(store: Store, incident_id: int) -> Incident | None:
    if not 0 < incident_id <= MAX_ID:
        return None
    rows = await store.fetchall(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
    )
    if not rows:
        return None
    latest = await latest_updates(store, [incident_id])
    (incident,) = await _incidents(store.fetchall, rows, latest)
    return incident


async def list_incidents(
    store: Store,
    *,
    active: bool | None = None,
    monitor_id: str | None = None,
    since: dt.datetime | None = None,
    after: IncidentPosition | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Newest start first. ``since``: incidents still active at or after that time.
    ``monitor_id``: its automatic incidents and the manual ones naming it as a component."""
    where: list[str] = []
    params: list[Any] = []
    if active is not None:
        where.append("ended_at IS NULL" if active else "ended_at IS NOT NULL")
    if monitor_id is not None:
        where.append(
            "(monitor_id = ? OR id IN"
            " (SELECT incident_id FROM incident_components WHERE monitor_id = ?))"
        )
        params += [monitor_id, monitor_id]
    if since is not None:
        where.append("(ended_at IS NULL OR ended_at >= ?)")
        params.append(to_millis(since))
    if after is not None:
        where.append("(started_at < ? OR (started_at = ? AND id < ?))")
        params += [after.started_at_ms, after.started_at_ms, after.id]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await store.fetchall(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents{clause}"
        " ORDER BY started_at DESC, id DESC LIMIT ?",
        (*params, limit),
    )
    latest = await latest_updates(store, [row[0] for row in rows])
    return await _incidents(store.fetchall, rows, latest)


async def latest_updates(store: Store, incident_ids: Iterable[int]) -> dict[int, IncidentUpdate]:
    """The newest timeline update of each incident that has one."""
    ids = list(incident_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        f"SELECT {_UPDATE_COLUMNS} FROM incident_updates WHERE id IN"
        f" (SELECT max(id) FROM incident_updates WHERE incident_id IN ({marks})"
        " GROUP BY incident_id)",
        ids,
    )
    return {row[1]: _update(row) for row in rows}


async def incident_updates(store: Store, incident_id: int) -> list[IncidentUpdate]:
    """The timeline, newest first."""
    rows = await store.fetchall(
        f"SELECT {_UPDATE_COLUMNS} FROM incident_updates WHERE incident_id = ? ORDER BY id DESC",
        (incident_id,),
    )
    return [_update(row) for row in rows]


# -- reads for the public page -------------------------------------------------------


async def incidents_of_monitors(
    store: Store, monitor_ids: Iterable[str], *, ended_since: dt.datetime
) -> list[Incident]:
    """Incidents of these monitors that are active or ended at or after ``ended_since``,
    newest start first; without ``latest_update`` (read the timelines with
    :func:`incident_timelines`: one query for all of them)."""
    ids = list(dict.fromkeys(monitor_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE monitor_id IN ({marks})"
        " AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC, id DESC",
        (*ids, to_millis(ended_since)),
    )
    return [_incident(row) for row in rows]


async def manual_incidents(store: Store, *, ended_since: dt.datetime) -> list[Incident]:
    """Manual incidents active or ended at or after ``ended_since``, newest start first,
    with their component_ids; without ``latest_update``. Which page shows which is the
    pages domain's rule (few are open at a time: they are read all at once)."""
    rows = await store.fetchall(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE kind = 'manual'"
        " AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC, id DESC",
        (to_millis(ended_since),),
    )
    return await _incidents(store.fetchall, rows)


async def incident_timelines(
    store: Store, incident_ids: Iterable[int]
) -> dict[int, list[IncidentUpdate]]:
    """The timelines of many incidents in one query, each newest first."""
    ids = list(incident_ids)
    found: dict[int, list[IncidentUpdate]] = {i: [] for i in ids}
    if not ids:
        return found
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        f"SELECT {_UPDATE_COLUMNS} FROM incident_updates WHERE incident_id IN ({marks})"
        " ORDER BY incident_id, id DESC",
        ids,
    )
    for row in rows:
        found[row[1]].append(_update(row))
    return found
