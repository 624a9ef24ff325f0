"""The store: one SQLite file, one writer task, read-only connections for reads.

Callers never write SQL: they call intent-named methods. Writes go through the
writer (see ``writer.py``); reads use a separate read-only connection so a long
read never waits behind a write transaction (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from ..models import ResultRecord, utcnow
from ..monitoring.store import (
    RESULT_COLUMNS,
    ROLLUP_COLUMNS,
    DailyRollup,
    StoredResult,
    result_from_row,
    rollup_from_row,
)
from .migrations import migrate
from .sql import to_millis
from .writer import WriteFn, Writer

log = logging.getLogger(__name__)

PRUNE_CHUNK = 5000


@dataclass(frozen=True)
class StoreFacts:
    path: str
    file_bytes: int
    wal_bytes: int
    pending_results: int
    queued_writes: int
    flushed_results: int
    failed_flushes: int
    last_flush: float | None


class Store:
    def __init__(self, path: Path | str, *, flush_interval: float = 1.0) -> None:
        self.path = Path(path)
        self._flush_interval = flush_interval
        self._write_db: aiosqlite.Connection | None = None
        self._read_db: aiosqlite.Connection | None = None
        self._writer: Writer | None = None

    async def open(self) -> None:
        """Create the file if needed, migrate, start the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",  # WAL + NORMAL: a commit survives a process crash
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
        ):
            await self._write_db.execute(pragma)
        await migrate(self._write_db)
        # A percent-encoded file: URI, so a path holding "?", "#" or "%" names this file.
        self._read_db = await aiosqlite.connect(
            f"{self.path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None
        )
        await self._read_db.execute("PRAGMA busy_timeout=5000")
        self._writer = Writer(self._write_db, flush_interval=self._flush_interval)
        self._writer.start()

    async def close(self) -> None:
        """Flush buffered results, finish queued writes, close connections."""
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        for db in (self._read_db, self._write_db):
            if db is not None:
                with contextlib.suppress(Exception):
                    await db.close()
        self._read_db = self._write_db = None

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes ---------------------------------------------------------------

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    def add_result(self, record: ResultRecord) -> None:
        """Queue a check result; committed within a second."""
        self.writer.add_result(record)

    async def write(self, fn: WriteFn[Any]) -> Any:
        """Run ``fn(db)`` as one write transaction; for store modules added by later features."""
        return await self.writer.submit(fn)

    async def flush(self) -> None:
        await self.writer.flush()

    async def prune_results(self, before: dt.datetime) -> int:
        """Delete raw results older than ``before`` in small transactions; rollups stay."""
        cutoff = to_millis(before)
        deleted = 0
        while True:
            count = await self.write(lambda db: _delete_chunk(db, cutoff))
            deleted += count
            if count < PRUNE_CHUNK:
                return deleted
            await asyncio.sleep(0)  # let other writes and the results flush through

    # -- reads ----------------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._read_db is None:
            raise RuntimeError("store is not open")
        async with self._read_db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def latest_results(self, monitor_ids: Iterable[str]) -> dict[str, StoredResult]:
        """The newest stored result of each monitor that has one."""
        latest = {}
        for monitor_id in monitor_ids:
            rows = await self.fetchall(
                f"SELECT {RESULT_COLUMNS} FROM results WHERE monitor_id = ?"
                " ORDER BY checked_at DESC, id DESC LIMIT 1",
                (monitor_id,),
            )
            if rows:
                latest[monitor_id] = result_from_row(rows[0])
        return latest

    async def recent_results(
        self, monitor_id: str, *, limit: int = 100, since: dt.datetime | None = None
    ) -> list[StoredResult]:
        """Newest first."""
        rows = await self.fetchall(
            f"SELECT {RESULT_COLUMNS} FROM results WHERE monitor_id = ? AND checked_at >= ?"
            " ORDER BY checked_at DESC, id DESC LIMIT ?",
            (monitor_id, to_millis(since) if since else 0, limit),
        )
        return [result_from_row(row) for row in rows]

    async def daily_rollups(
        self, monitor_ids: Iterable[str], since: dt.date
    ) -> dict[str, list[DailyRollup]]:
        """Rollups from ``since`` (inclusive) on, oldest first, by monitor."""
        ids = list(monitor_ids)
        found: dict[str, list[DailyRollup]] = {m: [] for m in ids}
        if not ids:
            return found
        marks = ",".join("?" * len(ids))
        rows = await self.fetchall(
            f"SELECT {ROLLUP_COLUMNS} FROM daily_rollups"
            f" WHERE monitor_id IN ({marks}) AND day >= ? ORDER BY monitor_id, day",
            (*ids, since.isoformat()),
        )
        for row in rows:
            rollup = rollup_from_row(row)
            found[rollup.monitor_id].append(rollup)
        return found

    async def facts(self) -> StoreFacts:
        stats = self.writer.stats

        def size(path: Path) -> int:
            try:
                return os.stat(path).st_size
            except OSError:
                return 0

        return StoreFacts(
            path=str(self.path),
            file_bytes=size(self.path),
            wal_bytes=size(self.path.with_name(self.path.name + "-wal")),
            pending_results=stats.pending_results,
            queued_writes=stats.queued_writes,
            flushed_results=stats.flushed_results,
            failed_flushes=stats.failed_flushes,
            last_flush=stats.last_flush,
        )


async def _delete_chunk(db: aiosqlite.Connection, cutoff: int) -> int:
    cursor = await db.execute(
        "DELETE FROM results WHERE id IN (SELECT id FROM results WHERE checked_at < ? LIMIT ?)",
        (cutoff, PRUNE_CHUNK),
    )
    return cursor.rowcount


def retention_cutoff(retention_days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=retention_days)
