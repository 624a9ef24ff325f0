"""Maintenance windows: tables and intent-named queries.

Functions taking ``db`` run inside a write transaction (``store.write``); the
others read through the store's read-only connection. The lifecycle rules live
in ``maintenance.service`` and ``maintenance.lifecycle``; this module only
stores what it is told.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store
from .models import (
    STATUSES,
    ConfigOccurrence,
    PlannedConfigWindow,
    StoredWindow,
    WindowFields,
    WindowPosition,
)


async def m004_maintenance(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE maintenance_windows (
            id INTEGER PRIMARY KEY AUTOINCREMENT,    -- a purged id is never reused
            title TEXT NOT NULL,
            description TEXT,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
            starts_at INTEGER NOT NULL,              -- unix milliseconds, UTC
            ends_at INTEGER NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('scheduled', 'active', 'completed', 'cancelled')),
            completed_at INTEGER,
            cancelled_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,                -- token name, or 'config'
            source TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config')),
            -- Windows materialised from a [[maintenance]] entry: which entry, which
            -- occurrence (kept apart from starts_at, which an operator may edit), and a
            -- hash of the entry so a changed entry replaces its future windows.
            config_id TEXT,
            occurrence_at INTEGER,
            config_fingerprint TEXT,
            UNIQUE (config_id, occurrence_at)
        );
        CREATE INDEX maintenance_by_start ON maintenance_windows (starts_at);
        CREATE INDEX maintenance_by_status ON maintenance_windows (status, starts_at);

        CREATE TABLE maintenance_components (
            window_id INTEGER NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
            monitor_id TEXT NOT NULL,
            position INTEGER NOT NULL,               -- keeps component_ids in the given order
            PRIMARY KEY (window_id, monitor_id)
        ) WITHOUT ROWID;
        CREATE INDEX maintenance_components_by_monitor ON maintenance_components (monitor_id);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m004_maintenance,)


_COLUMNS = (
    "id, title, description, severity, starts_at, ends_at, status, completed_at,"
    " cancelled_at, created_at, updated_at, created_by, source, config_id"
)


def _maybe(value: int | None) -> dt.datetime | None:
    return None if value is None else from_millis(value)


def _window(row: Sequence[Any], components: tuple[str, ...]) -> StoredWindow:
    return StoredWindow(
        id=row[0],
        title=row[1],
        description=row[2],
        severity=row[3],
        component_ids=components,
        starts_at=from_millis(row[4]),
        ends_at=from_millis(row[5]),
        status=row[6],
        completed_at=_maybe(row[7]),
        cancelled_at=_maybe(row[8]),
        created_at=from_millis(row[9]),
        updated_at=from_millis(row[10]),
        created_by=row[11],
        source=row[12],
        config_id=row[13],
    )


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def _components_query(ids: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    marks = ",".join("?" * len(ids))
    return (
        "SELECT window_id, monitor_id FROM maintenance_components"
        f" WHERE window_id IN ({marks}) ORDER BY window_id, position",
        tuple(ids),
    )


def _assemble(rows: list[Any], component_rows: Iterable[Any]) -> list[StoredWindow]:
    by_window: dict[int, list[str]] = {}
    for window_id, monitor_id in component_rows:
        by_window.setdefault(window_id, []).append(monitor_id)
    return [_window(row, tuple(by_window.get(row[0], ()))) for row in rows]


# -- writes (inside store.write) ------------------------------------------------


async def insert_window(
    db: aiosqlite.Connection,
    fields: WindowFields,
    *,
    status: str,
    now: dt.datetime,
    created_by: str,
    completed_at: dt.datetime | None = None,
    config_id: str | None = None,
    occurrence_at: dt.datetime | None = None,
    fingerprint: str | None = None,
) -> int | None:
    """The new window's id; None when that config occurrence already exists."""
    cursor = await db.execute(
        "INSERT OR IGNORE INTO maintenance_windows (title, description, severity, starts_at,"
        " ends_at, status, completed_at, created_at, updated_at, created_by, source, config_id,"
        " occurrence_at, config_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fields.title,
            fields.description,
            fields.severity,
            to_millis(fields.starts_at),
            to_millis(fields.ends_at),
            status,
            to_millis(completed_at) if completed_at else None,
            to_millis(now),
            to_millis(now),
            created_by,
            "config" if config_id else "api",
            config_id,
            to_millis(occurrence_at) if occurrence_at else None,
            fingerprint,
        ),
    )
    if cursor.rowcount == 0:
        return None
    window_id = cursor.lastrowid
    assert window_id is not None
    await _write_components(db, window_id, fields.component_ids)
    return window_id


async def _write_components(
    db: aiosqlite.Connection, window_id: int, component_ids: Sequence[str]
) -> None:
    await db.execute("DELETE FROM maintenance_components WHERE window_id = ?", (window_id,))
    await db.executemany(
        "INSERT INTO maintenance_components (window_id, monitor_id, position) VALUES (?, ?, ?)",
        [(window_id, monitor_id, i) for i, monitor_id in enumerate(component_ids)],
    )


async def read_window(db: aiosqlite.Connection, window_id: int) -> StoredWindow | None:
    """One window, read on the write connection (inside the transaction)."""
    rows = await _rows(db, f"SELECT {_COLUMNS} FROM maintenance_windows WHERE id = ?", (window_id,))
    if not rows:
        return None
    return _assemble(rows, await _rows(db, *_components_query([window_id])))[0]


async def rewrite_window(
    db: aiosqlite.Connection,
    window_id: int,
    fields: WindowFields,
    *,
    status: str,
    completed_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    await db.execute(
        "UPDATE maintenance_windows SET title = ?, description = ?, severity = ?,"
        " starts_at = ?, ends_at = ?, status = ?, completed_at = ?, updated_at = ? WHERE id = ?",
        (
            fields.title,
            fields.description,
            fields.severity,
            to_millis(fields.starts_at),
            to_millis(fields.ends_at),
            status,
            to_millis(completed_at) if completed_at else None,
            to_millis(now),
            window_id,
        ),
    )
    await _write_components(db, window_id, fields.component_ids)


async def set_window_text(
    db: aiosqlite.Connection,
    window_id: int,
    *,
    title: str,
    description: str | None,
    now: dt.datetime,
) -> None:
    await db.execute(
        "UPDATE maintenance_windows SET title = ?, description = ?, updated_at = ? WHERE id = ?",
        (title, description, to_millis(now), window_id),
    )


async def mark_cancelled(db: aiosqlite.Connection, window_id: int, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE maintenance_windows SET status = 'cancelled', cancelled_at = ?, updated_at = ?"
        " WHERE id = ?",
        (to_millis(now), to_millis(now), window_id),
    )


async def mark_active(db: aiosqlite.Connection, window_id: int, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE maintenance_windows SET status = 'active', updated_at = ? WHERE id = ?",
        (to_millis(now), window_id),
    )


async def mark_completed(
    db: aiosqlite.Connection, window_id: int, *, completed_at: dt.datetime, now: dt.datetime
) -> None:
    await db.execute(
        "UPDATE maintenance_windows SET status = 'completed', completed_at = ?, updated_at = ?"
        " WHERE id = ?",
        (to_millis(completed_at), to_millis(now), window_id),
    )


async def delete_window(db: aiosqlite.Connection, window_id: int) -> bool:
    """Delete a window and (by cascade) its components for good."""
    cursor = await db.execute("DELETE FROM maintenance_windows WHERE id = ?", (window_id,))
    return cursor.rowcount > 0


async def live_windows(db: aiosqlite.Connection) -> list[StoredWindow]:
    """Scheduled and active windows, soonest first."""
    rows = await _rows(
        db,
        f"SELECT {_COLUMNS} FROM maintenance_windows"
        " WHERE status IN ('scheduled', 'active') ORDER BY starts_at, id",
    )
    if not rows:
        return []
    return _assemble(rows, await _rows(db, *_components_query([row[0] for row in rows])))


async def config_occurrences(
    db: aiosqlite.Connection, config_id: str, since: dt.datetime
) -> list[ConfigOccurrence]:
    """Materialised occurrences of one entry that end after ``since``."""
    rows = await _rows(
        db,
        "SELECT config_id, occurrence_at, starts_at, ends_at FROM maintenance_windows"
        " WHERE config_id = ? AND ends_at > ? ORDER BY occurrence_at",
        (config_id, to_millis(since)),
    )
    return [
        ConfigOccurrence(row[0], from_millis(row[1]), from_millis(row[2]), from_millis(row[3]))
        for row in rows
    ]


async def planned_config_windows(
    db: aiosqlite.Connection, after: dt.datetime
) -> list[PlannedConfigWindow]:
    """Config windows still scheduled to start after ``after``."""
    rows = await _rows(
        db,
        "SELECT id, config_id, config_fingerprint FROM maintenance_windows"
        " WHERE source = 'config' AND status = 'scheduled' AND starts_at > ?",
        (to_millis(after),),
    )
    return [PlannedConfigWindow(*row) for row in rows]


# -- reads (read-only connection) -------------------------------------------------


async def get_window(store: Store, window_id: int) -> StoredWindow | None:
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM maintenance_windows WHERE id = ?", (window_id,)
    )
    if not rows:
        return None
    return _assemble(rows, await store.fetchall(*_components_query([window_id])))[0]


async def list_windows(
    store: Store,
    *,
    status: str | None = None,
    starts_after: dt.datetime | None = None,
    after: WindowPosition | None = None,
    soonest_first: bool = False,
    limit: int = 50,
) -> list[StoredWindow]:
    """Newest start first (or soonest first), from just past ``after`` if given;
    optionally one status and/or starting after a time."""
    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if starts_after is not None:
        where.append("starts_at > ?")
        params.append(to_millis(starts_after))
    beyond, order = (">", "ASC") if soonest_first else ("<", "DESC")
    if after is not None:
        where.append(f"(starts_at {beyond} ? OR (starts_at = ? AND id {beyond} ?))")
        params += [after.starts_at_ms, after.starts_at_ms, after.id]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM maintenance_windows{clause}"
        f" ORDER BY starts_at {order}, id {order} LIMIT ?",
        (*params, limit),
    )
    if not rows:
        return []
    return _assemble(rows, await store.fetchall(*_components_query([row[0] for row in rows])))


async def windows_touching(
    store: Store,
    monitor_ids: Iterable[str],
    *,
    statuses: Sequence[str] = STATUSES,
    limit: int | None = None,
) -> list[StoredWindow]:
    """Windows covering at least one of ``monitor_ids`` (with all their components),
    newest start first; for the public page, which shows only its own monitors'."""
    ids, wanted = list(dict.fromkeys(monitor_ids)), list(statuses)
    if not ids or not wanted:
        return []
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM maintenance_windows WHERE status IN"
        f" ({','.join('?' * len(wanted))}) AND id IN (SELECT window_id FROM"
        f" maintenance_components WHERE monitor_id IN ({','.join('?' * len(ids))}))"
        " ORDER BY starts_at DESC, id DESC" + ("" if limit is None else " LIMIT ?"),
        # No LIMIT rather than SQLite's LIMIT -1, which PostgreSQL refuses.
        (*wanted, *ids, *(() if limit is None else (limit,))),
    )
    if not rows:
        return []
    return _assemble(rows, await store.fetchall(*_components_query([row[0] for row in rows])))


async def recent_windows_touching(
    store: Store, monitor_ids: Iterable[str], *, now: dt.datetime, limit: int
) -> list[StoredWindow]:
    """Up to ``limit`` windows covering ``monitor_ids``, newest start first, chosen so
    that plans never displace history: windows that have started (newest first) are
    taken before those still ahead (soonest first), so a year of scheduled windows
    cannot push what happened out of a page's list."""
    ids = list(dict.fromkeys(monitor_ids))
    if not ids:
        return []
    at = to_millis(now)
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM maintenance_windows WHERE id IN (SELECT window_id FROM"
        f" maintenance_components WHERE monitor_id IN ({','.join('?' * len(ids))}))"
        " ORDER BY starts_at > ?, CASE WHEN starts_at > ? THEN starts_at END,"
        " starts_at DESC, id DESC LIMIT ?",
        (*ids, at, at, limit),
    )
    if not rows:
        return []
    windows = _assemble(rows, await store.fetchall(*_components_query([row[0] for row in rows])))
    return sorted(windows, key=lambda w: (w.starts_at, w.id), reverse=True)


async def maintenance_days(
    store: Store, monitor_ids: Iterable[str], since: dt.date, now: dt.datetime
) -> dict[str, set[dt.date]]:
    """The UTC days from ``since`` on that a window overlapped (up to ``now``), by
    covered monitor: the history's maintenance cells. Cancelled windows do not
    count; the stored status of the others may lag the clock, so times decide."""
    ids = list(dict.fromkeys(monitor_ids))
    if not ids:
        return {}
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    rows = await store.fetchall(
        "SELECT c.monitor_id, w.starts_at, coalesce(w.completed_at, w.ends_at)"
        " FROM maintenance_windows AS w JOIN maintenance_components AS c ON c.window_id = w.id"
        " WHERE w.status != 'cancelled' AND w.starts_at < ?"
        " AND coalesce(w.completed_at, w.ends_at) > ?"
        f" AND c.monitor_id IN ({','.join('?' * len(ids))})",
        (to_millis(now), to_millis(start), *ids),
    )
    found: dict[str, set[dt.date]] = {}
    for monitor_id, starts, ends in rows:
        first = max(from_millis(starts), start).date()
        # The last instant inside the window, so a window ending at midnight
        # does not claim the next day.
        last = (min(from_millis(ends), now) - dt.timedelta(milliseconds=1)).date()
        days = found.setdefault(monitor_id, set())
        while first <= last:
            days.add(first)
            first += dt.timedelta(days=1)
    return found
