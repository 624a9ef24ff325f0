"""The one task that writes to the database.

Every write goes through here, so no two transactions ever interleave on the
write connection. Check results are buffered and flushed in one transaction at
least every ``flush_interval`` seconds (and on close); other writes are whole
transactions submitted as async functions and awaited by the caller, so a write
that returned is committed.

The writer does not know what a result is: the monitoring domain hands it the
function that writes a batch (raw rows and rollups, in the flush's transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[aiosqlite.Connection], Awaitable[T]]
# Writes a batch of buffered check results inside the flush's transaction.
WriteResults = Callable[[aiosqlite.Connection, list[Any]], Awaitable[None]]


@dataclass
class WriterStats:
    pending_results: int = 0
    flushed_results: int = 0
    flushes: int = 0
    failed_flushes: int = 0
    last_flush: float | None = None  # unix seconds
    queued_writes: int = 0


@dataclass
class _Job:
    fn: WriteFn[Any]
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Writer:
    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        write_results: WriteResults,
        flush_interval: float = 1.0,
        max_batch: int = 1000,
    ) -> None:
        self._db = db
        self._write_results = write_results
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._buffer: list[Any] = []
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stats = WriterStats()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="uplight-store-writer")

    def add_result(self, record: Any) -> None:
        """Buffer a result; it is committed within ``flush_interval``. Never blocks."""
        self._buffer.append(record)
        self.stats.pending_results = len(self._buffer)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()

    async def submit(self, fn: WriteFn[T]) -> T:
        """Run ``fn(db)`` inside ``BEGIN IMMEDIATE … COMMIT``; return what it returns."""
        if self._task is None or self._task.done():
            raise RuntimeError("the store writer is not running")
        job = _Job(fn)
        self._jobs.put_nowait(job)
        self.stats.queued_writes = self._jobs.qsize()
        self._wake.set()
        return await job.future

    async def flush(self) -> None:
        """Commit buffered results now (waits for the writer to do it)."""
        await self.submit(_noop)

    async def close(self) -> None:
        """Flush what is buffered, finish queued writes, stop."""
        if self._task is None:
            return
        self._jobs.put_nowait(None)
        self._wake.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        deadline = time.monotonic() + self._flush_interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
            self._wake.clear()
            stop = False
            while not self._jobs.empty():
                job = self._jobs.get_nowait()
                self.stats.queued_writes = self._jobs.qsize()
                if job is None:
                    stop = True
                    continue
                # Results first, so a job that reads what the checks found sees it.
                await self._flush_results()
                await self._run_job(job)
            if stop:
                await self._drain()
                return
            if time.monotonic() >= deadline or len(self._buffer) >= self._max_batch:
                await self._flush_results()
                deadline = time.monotonic() + self._flush_interval

    async def _drain(self) -> None:
        """Closing: flush, and answer every job that arrived meanwhile, until none is left.

        No ``await`` separates the last emptiness check from the task's end, so a
        ``submit`` either gets its job run here or sees the writer stopped.
        """
        while True:
            failures = self.stats.failed_flushes
            await self._flush_results()
            if self.stats.failed_flushes != failures:
                # The database refuses writes (already logged): answer the waiting
                # jobs rather than leave their callers hanging.
                log.error("closing with %d check results unwritten", len(self._buffer))
                while not self._jobs.empty():
                    job = self._jobs.get_nowait()
                    if job is not None and not job.future.done():
                        job.future.set_exception(RuntimeError("the store writer stopped"))
                return
            if self._jobs.empty():
                if not self._buffer:
                    return
                continue  # results added while the last ones were written
            job = self._jobs.get_nowait()
            self.stats.queued_writes = self._jobs.qsize()
            if job is not None:
                await self._run_job(job)

    async def _run_job(self, job: _Job) -> None:
        try:
            value = await self._transaction(job.fn)
        except BaseException as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not job.future.done():
                job.future.set_result(value)

    async def _flush_results(self) -> None:
        """Commit what is buffered now, at most ``max_batch`` results per transaction
        (results added meanwhile wait for the next flush, so jobs never starve)."""
        remaining = len(self._buffer)
        while remaining > 0:
            batch = self._buffer[: min(remaining, self._max_batch)]
            del self._buffer[: len(batch)]
            remaining -= len(batch)
            try:
                await self._transaction(lambda db, batch=batch: self._write_results(db, batch))
            except Exception:
                # Keep the batch for the next attempt: results are only dropped if the
                # database stays unwritable and the process exits.
                log.exception("could not write %d check results; will retry", len(batch))
                self._buffer[:0] = batch
                self.stats.failed_flushes += 1
                break
            else:
                self.stats.flushed_results += len(batch)
                self.stats.flushes += 1
                self.stats.last_flush = time.time()
            finally:
                self.stats.pending_results = len(self._buffer)

    async def _transaction(self, fn: WriteFn[T]) -> T:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            value = await fn(self._db)
            await self._db.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (or ``fn`` committed): a failing
            # ROLLBACK must not hide the error the caller needs to see.
            if self._db.in_transaction:
                try:
                    await self._db.execute("ROLLBACK")
                except Exception:
                    log.exception("ROLLBACK failed")
            raise
        return value


async def _noop(db: aiosqlite.Connection) -> None:
    return None
