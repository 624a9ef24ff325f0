"""The notification outbox: one row per message per channel, written with its event.

A row is inserted in the same transaction that records what it tells (an
incident transition, an operator's update), so both commit or neither does;
the delivery worker then moves it ``pending → sent`` or, once its retry window
is over, ``→ dead``. Rows collapsed into a minimum-gap summary point at the
summary row (``summary_id``) and follow its fate, so each stays auditable.

The payload is the :class:`~uplight.Notification` as JSON: never a channel's
options, which are read from the config at send time, so no secret is stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store
from ..notifiers import Notification

STATUSES = ("pending", "sent", "dead")
_TIME_FIELDS = ("started_at", "ended_at", "created_at")
MAX_ERROR = 500


async def m006_notifications(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE notification_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,    -- never reused: ids order deliveries
            channel TEXT NOT NULL,                   -- a [[notifiers]] id
            event TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,    -- sent with every attempt
            payload TEXT NOT NULL,                   -- JSON: the message, never channel options
            incident_id INTEGER,
            monitor_id TEXT,
            created_at INTEGER NOT NULL,             -- unix milliseconds, UTC
            next_attempt_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,                         -- scrubbed: no option values
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            sent_at INTEGER,
            is_summary INTEGER NOT NULL DEFAULT 0,
            summary_id INTEGER                       -- collapsed into that summary row
        );
        CREATE INDEX notification_outbox_queue ON notification_outbox (status, channel, id);
        CREATE INDEX notification_outbox_by_incident
            ON notification_outbox (incident_id, channel, event);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m006_notifications,)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel: str
    event: str
    idempotency_key: str
    message: Notification
    incident_id: int | None
    monitor_id: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    attempts: int
    last_error: str | None
    status: str
    sent_at: dt.datetime | None
    is_summary: bool
    summary_id: int | None


_COLUMNS = (
    "id, channel, event, idempotency_key, payload, incident_id, monitor_id, created_at,"
    " next_attempt_at, attempts, last_error, status, sent_at, is_summary, summary_id"
)


def encode(message: Notification) -> str:
    return json.dumps(message.to_json(), sort_keys=True, separators=(",", ":"))


def decode(payload: str) -> Notification:
    data: dict[str, Any] = json.loads(payload)
    names = {f.name for f in dataclasses.fields(Notification)}
    fields = {k: v for k, v in data.items() if k in names}
    for name in _TIME_FIELDS:
        if isinstance(fields.get(name), str):
            fields[name] = dt.datetime.fromisoformat(fields[name])
    return Notification(**fields)


def _row(row: Sequence[Any]) -> OutboxRow:
    return OutboxRow(
        id=row[0],
        channel=row[1],
        event=row[2],
        idempotency_key=row[3],
        message=decode(row[4]),
        incident_id=row[5],
        monitor_id=row[6],
        created_at=from_millis(row[7]),
        next_attempt_at=from_millis(row[8]),
        attempts=row[9],
        last_error=row[10],
        status=row[11],
        sent_at=None if row[12] is None else from_millis(row[12]),
        is_summary=bool(row[13]),
        summary_id=row[14],
    )


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


# -- writes, inside the caller's transaction ------------------------------------------


async def insert(
    db: aiosqlite.Connection,
    channel: str,
    message: Notification,
    at: dt.datetime,
    *,
    is_summary: bool = False,
) -> int | None:
    """Queue ``message`` for ``channel``, due now. None when its key is already queued
    (how a reminder or a certificate warning is made once-only across restarts)."""
    cursor = await db.execute(
        "INSERT OR IGNORE INTO notification_outbox (channel, event, idempotency_key, payload,"
        " incident_id, monitor_id, created_at, next_attempt_at, is_summary)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            channel,
            message.event,
            message.idempotency_key,
            encode(message),
            message.incident_id,
            message.monitor_id,
            to_millis(at),
            to_millis(at),
            int(is_summary),
        ),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def pending(db: aiosqlite.Connection, limit: int = 1000) -> list[OutboxRow]:
    """What waits for delivery, oldest first, up to ``limit`` per channel: one
    channel's backlog (a receiver down for hours) never hides another's rows.
    Collapsed rows travel with their summary."""
    rows = await _rows(
        db,
        f"SELECT {_COLUMNS} FROM (SELECT *, row_number() OVER"
        " (PARTITION BY channel ORDER BY id) AS position FROM notification_outbox"
        " WHERE status = 'pending' AND summary_id IS NULL) AS queued"
        " WHERE position <= ? ORDER BY id",
        (limit,),
    )
    return [_row(r) for r in rows]


async def mark_sent(db: aiosqlite.Connection, row_id: int, at: dt.datetime) -> None:
    await db.execute(
        "UPDATE notification_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
        " last_error = NULL WHERE id = ?",
        (to_millis(at), row_id),
    )
    await db.execute(
        "UPDATE notification_outbox SET status = 'sent', sent_at = ? WHERE summary_id = ?",
        (to_millis(at), row_id),
    )


async def claim(
    db: aiosqlite.Connection, row_id: int, due: dt.datetime, until: dt.datetime
) -> bool:
    """Take a pending row for one send, until ``until`` (a lease): its next attempt
    moves there, if it still is ``due`` (compare and set). False: another worker took
    it, or it is no longer pending. A worker that dies holding it leaves the row
    due again when the lease ends; its outcome (sent, retry, dead) replaces the lease."""
    cursor = await db.execute(
        "UPDATE notification_outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending'"
        " AND summary_id IS NULL AND next_attempt_at = ?",
        (to_millis(until), row_id, to_millis(due)),
    )
    return cursor.rowcount == 1


async def schedule_retry(
    db: aiosqlite.Connection, row_id: int, next_attempt_at: dt.datetime, error: str
) -> None:
    await db.execute(
        "UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = ?,"
        " last_error = ? WHERE id = ?",
        (to_millis(next_attempt_at), error[:MAX_ERROR], row_id),
    )


async def mark_dead(db: aiosqlite.Connection, row_id: int, error: str) -> None:
    await db.execute(
        "UPDATE notification_outbox SET status = 'dead', attempts = attempts + 1,"
        " last_error = ? WHERE id = ?",
        (error[:MAX_ERROR], row_id),
    )
    await db.execute(
        "UPDATE notification_outbox SET status = 'dead', last_error = ? WHERE summary_id = ?",
        (f"collapsed into summary {row_id}, which was not delivered", row_id),
    )


async def collapse(
    db: aiosqlite.Connection,
    channel: str,
    row_ids: Iterable[int],
    summary: Notification,
    created_at: dt.datetime,
    due: dt.datetime,
) -> int:
    """Insert ``summary`` and hang ``row_ids`` under it; returns the summary's id."""
    ids = list(row_ids)
    summary_id = await insert(db, channel, summary, created_at, is_summary=True)
    assert summary_id is not None  # the summary's key is new by construction
    await db.execute(
        "UPDATE notification_outbox SET next_attempt_at = ? WHERE id = ?",
        (to_millis(due), summary_id),
    )
    marks = ",".join("?" * len(ids))
    await db.execute(
        f"UPDATE notification_outbox SET summary_id = ? WHERE id IN ({marks})"
        " AND status = 'pending'",
        (summary_id, *ids),
    )
    return summary_id


async def was_queued(db: aiosqlite.Connection, channel: str, incident_id: int, event: str) -> bool:
    """Whether ``channel`` has (had) a row for this incident event, delivered or not."""
    rows = await _rows(
        db,
        "SELECT 1 FROM notification_outbox WHERE incident_id = ? AND channel = ? AND event = ?"
        " LIMIT 1",
        (incident_id, channel, event),
    )
    return bool(rows)


async def prune(db: aiosqlite.Connection, before: dt.datetime) -> int:
    """Delete finished rows (sent or dead) created before ``before``."""
    cursor = await db.execute(
        "DELETE FROM notification_outbox WHERE status != 'pending' AND created_at < ?",
        (to_millis(before),),
    )
    return cursor.rowcount


# -- reads -------------------------------------------------------------------------


async def opened_at(
    store: Store, incident_ids: Iterable[int]
) -> dict[tuple[str, int], dt.datetime]:
    """When each channel's ``incident_opened`` row of these incidents was queued."""
    ids = list(incident_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        "SELECT channel, incident_id, min(created_at) FROM notification_outbox"
        f" WHERE event = 'incident_opened' AND incident_id IN ({marks})"
        " GROUP BY channel, incident_id",
        ids,
    )
    return {(r[0], r[1]): from_millis(r[2]) for r in rows}


@dataclass(frozen=True, slots=True)
class QueueFacts:
    pending: int  # messages waiting (a summary counts once)
    dead: int
    oldest_pending: dt.datetime | None


async def queue_facts(store: Store) -> dict[str, QueueFacts]:
    rows = await store.fetchall(
        # count(CASE …), not sum(status = …): PostgreSQL sums no booleans.
        "SELECT channel, count(CASE WHEN status = 'pending' THEN 1 END),"
        " count(CASE WHEN status = 'dead' THEN 1 END),"
        " min(CASE WHEN status = 'pending' THEN created_at END)"
        " FROM notification_outbox WHERE summary_id IS NULL AND status != 'sent'"
        " GROUP BY channel"
    )
    return {
        r[0]: QueueFacts(
            int(r[1] or 0), int(r[2] or 0), None if r[3] is None else from_millis(r[3])
        )
        for r in rows
    }


async def last_sent(store: Store) -> dict[str, dt.datetime]:
    """The latest delivery per channel (what the minimum gap counts from after a restart)."""
    rows = await store.fetchall(
        "SELECT channel, max(sent_at) FROM notification_outbox"
        " WHERE status = 'sent' AND summary_id IS NULL GROUP BY channel"
    )
    return {r[0]: from_millis(r[1]) for r in rows if r[1] is not None}


async def dead_rows(
    store: Store, channel: str, *, before: int | None, limit: int
) -> list[OutboxRow]:
    """A channel's dead messages, newest first, below id ``before``; a collapsed row
    is left out (its summary stands for it), as ``queue_facts`` counts them."""
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM notification_outbox WHERE status = 'dead' AND channel = ?"
        " AND summary_id IS NULL AND id < ? ORDER BY id DESC LIMIT ?",
        (channel, before if before is not None else 2**63 - 1, limit),
    )
    return [_row(r) for r in rows]


async def list_rows(store: Store, channel: str | None = None) -> list[OutboxRow]:
    """Every row, oldest first: for audits and tests."""
    where, params = ("WHERE channel = ?", (channel,)) if channel else ("", ())
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM notification_outbox {where} ORDER BY id", params
    )
    return [_row(r) for r in rows]
