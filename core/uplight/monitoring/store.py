"""SQL for raw check results: the batch the store's writer flushes (``insert_results``)
and the reads.

Results are packed one block per monitor per UTC hour (``result_blocks.py`` says how),
messages are stored once each (``result_texts``), monitors are small integers
(``monitor_keys``). The daily and hourly rollups are in ``rollups_store.py``,
retention in ``retention_store.py``, the tables in ``migrations_store.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, to_millis
from ..db.store import Store
from ..models import CheckResult, CheckStatus, ResultRecord
from .migrations_store import m001_results_and_rollups, m007_packed_results
from .result_blocks import (
    BLOCK_MS,
    DETAILS_EMPTY,
    DETAILS_INLINE,
    DETAILS_NEWEST,
    STATUS_CODES,
    STATUSES,
    Entry,
    block_start,
    decode,
    encode,
    latency_us,
)
from .retention_store import prune_results as prune_results
from .rollups_store import HOURLY_ROLLUPS_KEPT as HOURLY_ROLLUPS_KEPT
from .rollups_store import DailyRollup as DailyRollup
from .rollups_store import DayCountRow as DayCountRow
from .rollups_store import DayCounts as DayCounts
from .rollups_store import daily_count_rows as daily_count_rows
from .rollups_store import daily_counts as daily_counts
from .rollups_store import daily_rollups as daily_rollups
from .rollups_store import fold_into_rollups
from .rollups_store import group_daily_counts as group_daily_counts

MIGRATIONS: tuple[Migration, ...] = (m001_results_and_rollups, m007_packed_results)

# Many values in one statement, well under SQLite's limit of variables.
_CHUNK = 500

# The upserts run in SQLite and PostgreSQL alike (db/postgres.py): the old row's
# columns are named by the table's alias (PostgreSQL finds a bare name ambiguous),
# and CASE stands for SQLite's two-argument max().
_UPSERT_TEXT = (
    "INSERT INTO result_texts AS t (text, last_seen) VALUES (?, ?)"
    " ON CONFLICT (text) DO UPDATE SET last_seen = CASE"
    " WHEN excluded.last_seen > t.last_seen THEN excluded.last_seen ELSE t.last_seen END"
)
# SET reads the row as it was, so newest_status compares against the old newest_at.
# `||` makes text of blobs: CAST keeps the bytes a blob.
_UPSERT_BLOCK = """
INSERT INTO result_blocks AS b (monitor_key, starts_at, count, newest_at, newest_status, entries)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (monitor_key, starts_at) DO UPDATE SET
    count = b.count + excluded.count,
    newest_status = CASE WHEN excluded.newest_at >= b.newest_at
        THEN excluded.newest_status ELSE b.newest_status END,
    newest_at = CASE WHEN excluded.newest_at > b.newest_at
        THEN excluded.newest_at ELSE b.newest_at END,
    entries = CAST(b.entries || excluded.entries AS BLOB)
"""
_UPSERT_LATEST_DETAILS = """
INSERT INTO latest_details AS d (monitor_key, checked_at, details) VALUES (?, ?, ?)
ON CONFLICT (monitor_key) DO UPDATE SET checked_at = excluded.checked_at,
    details = excluded.details
WHERE excluded.checked_at >= d.checked_at
"""


async def monitor_keys(db: aiosqlite.Connection, monitor_ids: Iterable[str]) -> dict[str, int]:
    """Each monitor id's key, new ones added (in the caller's transaction)."""
    ids = sorted(set(monitor_ids))
    await db.executemany(
        "INSERT OR IGNORE INTO monitor_keys (monitor_id) VALUES (?)", [(m,) for m in ids]
    )
    found = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            f"SELECT monitor_id, key FROM monitor_keys WHERE monitor_id IN ({marks})", chunk
        ) as cursor:
            found.update(await cursor.fetchall())
    return found


async def text_ids(db: aiosqlite.Connection, used: dict[str, int]) -> dict[str, int]:
    """Each text's id, new ones added; ``used`` maps a text to the newest time (unix ms)
    a result of this batch uses it. The empty text is id 0, never stored."""
    await db.executemany(_UPSERT_TEXT, [(text, at) for text, at in used.items() if text])
    found = {"": 0}
    texts = [text for text in used if text]
    for offset in range(0, len(texts), _CHUNK):
        chunk = texts[offset : offset + _CHUNK]
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            f"SELECT text, id FROM result_texts WHERE text IN ({marks})", chunk
        ) as cursor:
            found.update(await cursor.fetchall())
    return found


class _Block:
    __slots__ = ("count", "entries", "newest_at", "newest_status")

    def __init__(self) -> None:
        self.count = 0
        self.entries = bytearray()
        self.newest_at: int | None = None
        self.newest_status = 0

    def add(self, entry: Entry) -> None:
        self.count += 1
        self.entries += encode(entry)
        if self.newest_at is None or entry.checked_at >= self.newest_at:
            self.newest_at, self.newest_status = entry.checked_at, STATUS_CODES[entry.status]


async def insert_results(db: aiosqlite.Connection, batch: list[ResultRecord]) -> None:
    """Store a batch of results and fold them into the rollups, in the caller's
    transaction (the store's writer calls this with each batch it flushes)."""
    if not batch:
        return
    keys = await monitor_keys(db, (record.monitor_id for record in batch))
    times = [to_millis(record.checked_at) for record in batch]
    used: dict[str, int] = {}
    for record, at in zip(batch, times, strict=True):
        for text in (record.result.message, record.error_reason):
            if text:
                used[text] = max(used.get(text, at), at)
    ids = await text_ids(db, used)
    blocks: dict[tuple[int, int], _Block] = {}
    newest_details: dict[int, tuple[int, dict[str, Any]]] = {}
    for record, at in zip(batch, times, strict=True):
        result, key = record.result, keys[record.monitor_id]
        mode, inline = DETAILS_EMPTY, None
        if result.details:
            if result.status == CheckStatus.UP and record.error_reason is None:
                mode = DETAILS_NEWEST  # turned into JSON below, only if it stays the newest
                if key not in newest_details or at >= newest_details[key][0]:
                    newest_details[key] = (at, result.details)
            else:
                mode, inline = DETAILS_INLINE, _json(result.details)
        entry = Entry(
            at,
            CheckStatus(result.status),
            latency_us(result.latency),
            ids[result.message] if result.message else 0,
            None if record.error_reason is None else ids[record.error_reason],
            record.in_maintenance,
            mode,
            inline,
        )
        blocks.setdefault((key, block_start(at)), _Block()).add(entry)
    await db.executemany(
        _UPSERT_BLOCK,
        [
            (key, start, b.count, b.newest_at, b.newest_status, bytes(b.entries))
            for (key, start), b in blocks.items()
        ],
    )
    await db.executemany(
        _UPSERT_LATEST_DETAILS,
        [(key, at, _json(details)) for key, (at, details) in newest_details.items()],
    )
    await fold_into_rollups(db, batch, times, keys)


def _json(details: dict[str, Any]) -> str:
    return json.dumps(details, default=str, separators=(",", ":"))


# -- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredResult:
    monitor_id: str
    checked_at: dt.datetime
    result: CheckResult
    error_reason: str | None
    in_maintenance: bool


@dataclass(frozen=True, slots=True)
class LatestStatus:
    """The newest result of a monitor, narrowed to what a public page may use:
    no message, no details (those may name hosts)."""

    status: CheckStatus
    checked_at: dt.datetime


# The block with a monitor's newest result: one seek in the (monitor_key, starts_at) index.
_NEWEST_BLOCK = (
    "(SELECT id FROM result_blocks WHERE monitor_key = k.key ORDER BY starts_at DESC LIMIT 1)"
)


async def latest_statuses(store: Store, monitor_ids: Iterable[str]) -> dict[str, LatestStatus]:
    """The status and time of each monitor's newest stored result (monitors without one
    are absent). Reads one row per monitor and decodes nothing."""
    ids = list(dict.fromkeys(monitor_ids))
    found: dict[str, LatestStatus] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await store.fetchall(
            "SELECT k.monitor_id, b.newest_status, b.newest_at FROM monitor_keys AS k"
            f" JOIN result_blocks AS b ON b.id = {_NEWEST_BLOCK}"
            f" WHERE k.monitor_id IN ({marks})",
            chunk,
        )
        for monitor_id, status, checked_at in rows:
            found[monitor_id] = LatestStatus(STATUSES[status], from_millis(checked_at))
    return found


async def latest_results(store: Store, monitor_ids: Iterable[str]) -> dict[str, StoredResult]:
    """The newest stored result of each monitor that has one."""
    ids = list(dict.fromkeys(monitor_ids))
    newest: dict[str, tuple[Entry, str | None]] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await store.fetchall(
            "SELECT k.monitor_id, b.starts_at, b.entries, d.checked_at, d.details"
            f" FROM monitor_keys AS k JOIN result_blocks AS b ON b.id = {_NEWEST_BLOCK}"
            " LEFT JOIN latest_details AS d ON d.monitor_key = k.key"
            f" WHERE k.monitor_id IN ({marks})",
            chunk,
        )
        for monitor_id, starts_at, blob, details_at, details in rows:
            entry = decode(starts_at, blob)[-1]
            newest[monitor_id] = (entry, details if details_at == entry.checked_at else None)
    texts = await _texts(store, [entry for entry, _ in newest.values()])
    return {
        monitor_id: stored_result(monitor_id, entry, texts, details)
        for monitor_id, (entry, details) in newest.items()
    }


_BLOCKS_PER_READ = 4


async def recent_results(
    store: Store,
    monitor_id: str,
    *,
    limit: int = 100,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[StoredResult]:
    """Newest first; ``since`` and ``until`` (both included) bound the times."""
    keys = await store.fetchall(
        "SELECT k.key, d.checked_at, d.details FROM monitor_keys AS k"
        " LEFT JOIN latest_details AS d ON d.monitor_key = k.key WHERE k.monitor_id = ?",
        (monitor_id,),
    )
    if not keys or limit <= 0:
        return []
    key, details_at, details = keys[0]
    lowest = to_millis(since) if since is not None else None
    highest = to_millis(until) if until is not None else None
    entries: list[Entry] = []
    # Blocks before this start are still to read.
    below: int | None = None if highest is None else highest + 1
    while len(entries) < limit:
        rows = await store.fetchall(
            "SELECT starts_at, entries FROM result_blocks WHERE monitor_key = ?"
            " AND starts_at > ? AND starts_at < ? ORDER BY starts_at DESC LIMIT ?",
            (
                key,
                -(2**62) if lowest is None else lowest - BLOCK_MS,
                2**62 if below is None else below,
                _BLOCKS_PER_READ,
            ),
        )
        for starts_at, blob in rows:
            for entry in reversed(decode(starts_at, blob)):
                if highest is not None and entry.checked_at > highest:
                    continue
                if lowest is not None and entry.checked_at < lowest:
                    break
                entries.append(entry)
            below = starts_at
        if len(rows) < _BLOCKS_PER_READ:
            break
    entries = entries[:limit]
    texts = await _texts(store, entries)
    return [
        # Only the monitor's newest result can still have its details in latest_details.
        stored_result(
            monitor_id, entry, texts, details if i == 0 and details_at == entry.checked_at else None
        )
        for i, entry in enumerate(entries)
    ]


def stored_result(
    monitor_id: str, entry: Entry, texts: dict[int, str], newest_details: str | None
) -> StoredResult:
    """A decoded entry as a result. ``newest_details``: the monitor's ``latest_details``
    when ``entry`` is its newest result. A text missing from ``texts`` reads as empty:
    retention drops texts just after the results that used them."""
    if entry.details_mode == DETAILS_INLINE:
        details_text = entry.details
    elif entry.details_mode == DETAILS_NEWEST:
        details_text = newest_details
    else:
        details_text = None
    return StoredResult(
        monitor_id=monitor_id,
        checked_at=from_millis(entry.checked_at),
        result=CheckResult(
            entry.status,
            None if entry.latency_us is None else entry.latency_us / 1_000_000,
            texts.get(entry.message_id, ""),
            json.loads(details_text) if details_text else {},
        ),
        error_reason=None if entry.reason_id is None else texts.get(entry.reason_id, ""),
        in_maintenance=entry.in_maintenance,
    )


async def _texts(store: Store, entries: Sequence[Entry]) -> dict[int, str]:
    wanted = sorted({e.message_id for e in entries} | {e.reason_id or 0 for e in entries} - {0})
    found = {0: ""}
    for offset in range(0, len(wanted), _CHUNK):
        chunk = wanted[offset : offset + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(
            await store.fetchall(f"SELECT id, text FROM result_texts WHERE id IN ({marks})", chunk)
        )
    return found
