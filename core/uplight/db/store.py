"""The store: one SQLite file (or a PostgreSQL database), one writer task, a
separate connection for reads.

Callers never write SQL: each domain's store module holds its SQL and runs it
through ``write`` and ``fetchall``. Writes go through the writer (see ``writer.py``);
reads use a separate read-only connection so a long read never waits behind a write
transaction (WAL). The Store knows no domain: it is handed the schema's migrations
and the function that writes buffered check results (``uplight.schema`` builds it).

Given a ``postgresql://`` URL instead of a path, the same runs against PostgreSQL
through ``postgres.py``'s connection, which speaks the stores' SQL (its docstring
says how); PostgreSQL needs no PRAGMAs and reclaims space itself (autovacuum).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from . import postgres
from .migrations import Migration, migrate
from .writer import WriteFn, Writer, WriteResults

log = logging.getLogger(__name__)

PRAGMAS = (
    # Only a new file takes it (before its first table, and before WAL mode); an older
    # file keeps auto_vacuum=NONE until `uplight db compact` rebuilds it.
    "PRAGMA auto_vacuum=INCREMENTAL",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",  # WAL + NORMAL: a commit survives a process crash
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    # The WAL is reused, never shrunk, after a checkpoint: past this it is truncated.
    f"PRAGMA journal_size_limit={64 * 1024 * 1024}",
)
# Free pages handed back to the file system per write transaction: about 1 MB, a few
# milliseconds, so buffered results and API writes never wait long behind it.
RECLAIM_PAGES_PER_STEP = 256
# The advisory lock (an arbitrary, fixed key) held while PostgreSQL is migrated.
MIGRATION_LOCK = 0x75706C6967687401


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
    def __init__(
        self,
        path: Path | str,
        *,
        url: str | None = None,
        migrations: Sequence[Migration],
        write_results: WriteResults,
        flush_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.url = url  # PostgreSQL's, when set: path is then unused
        self._migrations = tuple(migrations)
        self._write_results = write_results
        self._flush_interval = flush_interval
        self._write_db: aiosqlite.Connection | None = None
        self._read_db: aiosqlite.Connection | None = None
        self._writer: Writer | None = None

    @property
    def where(self) -> str:
        """The file's path, or the URL without its password: for logs and messages."""
        return postgres.scrub_url(self.url) if self.url is not None else str(self.path)

    @property
    def dialect(self) -> str:
        return postgres.DIALECT if self.url is not None else "sqlite"

    async def open(self) -> None:
        """Create the file if needed, migrate, start the writer."""
        if self.url is not None:
            await self._open_postgres(self.url)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS:
            await self._write_db.execute(pragma)
        if await migrate(self._write_db, self._migrations):
            # A long migration leaves a WAL as large as what it wrote: give it back now.
            await self._write_db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # A percent-encoded file: URI, so a path holding "?", "#" or "%" names this file.
        self._read_db = await aiosqlite.connect(
            f"{self.path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None
        )
        await self._read_db.execute("PRAGMA busy_timeout=5000")
        self._writer = Writer(
            self._write_db, write_results=self._write_results, flush_interval=self._flush_interval
        )
        self._writer.start()

    async def _open_postgres(self, url: str) -> None:
        write_db = await postgres.PgConnection.connect(url)
        self._write_db = write_db  # type: ignore[assignment]
        # Servers sharing the database start at once: one migrates, the others wait.
        await write_db.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
        try:
            await migrate(write_db, self._migrations)  # type: ignore[arg-type]
        finally:
            await write_db.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
        self._read_db = await postgres.PgConnection.connect(url)  # type: ignore[assignment]
        self._writer = Writer(
            write_db,  # type: ignore[arg-type]
            write_results=self._write_results,
            flush_interval=self._flush_interval,
        )
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

    def add_result(self, record: Any) -> None:
        """Queue a check result (a ``ResultRecord``); committed within a second."""
        self.writer.add_result(record)

    async def write(self, fn: WriteFn[Any]) -> Any:
        """Run ``fn(db)`` as one write transaction (the domains' store modules call this)."""
        return await self.writer.submit(fn)

    async def flush(self) -> None:
        await self.writer.flush()

    async def reclaim_space(self, *, pages_per_step: int = RECLAIM_PAGES_PER_STEP) -> int:
        """Give the file's free pages back to the file system, a step (one short write
        transaction) at a time; return how many. Nothing to do unless the file is in
        incremental auto-vacuum mode (new files are; ``uplight db compact`` switches
        older ones). The file shrinks at the WAL's next checkpoint. PostgreSQL's
        autovacuum does this itself: nothing to do there."""
        if self.url is not None:
            return 0

        async def step(db: aiosqlite.Connection) -> int:
            if await _pragma(db, "auto_vacuum") != 2:  # 2: INCREMENTAL
                return 0
            pages = min(await _pragma(db, "freelist_count"), pages_per_step)
            # One page per statement: Python's sqlite3 steps a pragma that returns no
            # columns only once, and each step of incremental_vacuum frees one page.
            for _ in range(pages):
                async with db.execute("PRAGMA incremental_vacuum(1)"):
                    pass  # closing the cursor ends the statement, so COMMIT may follow
            return pages

        reclaimed = 0
        while True:
            pages = await self.write(step)
            reclaimed += pages
            if pages < pages_per_step:
                return reclaimed
            await asyncio.sleep(0)

    # -- reads ----------------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._read_db is None:
            raise RuntimeError("store is not open")
        async with self._read_db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def facts(self) -> StoreFacts:
        stats = self.writer.stats

        def size(path: Path) -> int:
            try:
                return os.stat(path).st_size
            except OSError:
                return 0

        if self.url is not None:
            return StoreFacts(
                path=postgres.scrub_url(self.url),
                file_bytes=0,
                wal_bytes=0,
                pending_results=stats.pending_results,
                queued_writes=stats.queued_writes,
                flushed_results=stats.flushed_results,
                failed_flushes=stats.failed_flushes,
                last_flush=stats.last_flush,
            )
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


async def _pragma(db: aiosqlite.Connection, name: str) -> int:
    async with db.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
