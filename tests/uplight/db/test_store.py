"""The store against a real SQLite file: durability, the writer, the migration runner."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from stored import BASE, count_results, raw, record, stored_results

from uplight.db.migrations import migrate
from uplight.db.sql import from_millis, to_millis
from uplight.db.store import Store
from uplight.models import CheckResult, CheckStatus
from uplight.monitoring.migrations_store import m001_results_and_rollups
from uplight.monitoring.store import StoredResult, recent_results
from uplight.schema import MIGRATIONS, build_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The database: a SQLite file, or a database on the harness's PostgreSQL server."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "data" / "uplight.db"


def sqlite_only(location: Path | str, what: str) -> None:
    if not isinstance(location, Path):
        pytest.skip(f"SQLite only: {what}")


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    async with build_store(db_path, flush_interval=60) as opened:
        yield opened


# -- durability -----------------------------------------------------------------------------


async def test_buffered_results_are_written_on_close(db_path: Path) -> None:
    store = build_store(db_path, flush_interval=60)
    await store.open()
    records = [
        record("web", BASE + dt.timedelta(seconds=i), latency=i / 10, message=f"run {i}")
        for i in range(10)
    ]
    records.append(
        record(
            "dns",
            BASE,
            CheckStatus.DOWN,
            None,
            "check plugin 'dns' failed: boom",
            details={"phase": "resolve", "n": [1, 2]},
            error_reason="exception",
            in_maintenance=True,
        )
    )
    for item in records:
        store.add_result(item)
    await asyncio.sleep(0.1)
    assert count_results(db_path) == 0, "a 60 s flush interval must still be buffering"
    await store.close()

    assert count_results(db_path) == 11
    on_disk = stored_results(db_path)
    assert [r.monitor_id for r in on_disk] == ["dns"] + ["web"] * 10
    assert on_disk[0] == StoredResult(
        "dns",
        BASE,
        CheckResult(
            CheckStatus.DOWN,
            None,
            "check plugin 'dns' failed: boom",
            {"phase": "resolve", "n": [1, 2]},
        ),
        "exception",
        True,
    )

    async with build_store(db_path, flush_interval=60) as reopened:
        recent = await recent_results(reopened, "web", limit=100)
        dns = await recent_results(reopened, "dns")
    assert [r.result.message for r in recent] == [f"run {i}" for i in reversed(range(10))]
    assert recent[0].checked_at == BASE + dt.timedelta(seconds=9)
    assert recent[0].result.latency == pytest.approx(0.9)
    assert recent[0].result.status is CheckStatus.UP
    assert len(dns) == 1
    assert dns[0].result == CheckResult(
        CheckStatus.DOWN, None, "check plugin 'dns' failed: boom", {"phase": "resolve", "n": [1, 2]}
    )
    assert dns[0].error_reason == "exception"
    assert dns[0].in_maintenance is True
    assert dns[0].checked_at == BASE


async def test_results_are_flushed_within_the_interval(db_path: Path) -> None:
    async with build_store(db_path, flush_interval=0.2) as store:
        for i in range(5):
            store.add_result(record(checked_at=BASE + dt.timedelta(seconds=i)))
        started = time.monotonic()
        while count_results(db_path) < 5:
            assert time.monotonic() - started < 2.0, "results not flushed within 2 s"
            await asyncio.sleep(0.02)
        assert count_results(db_path) == 5
        # A second burst is flushed by the next tick too, without any close or flush call.
        store.add_result(record(checked_at=BASE + dt.timedelta(minutes=1)))
        started = time.monotonic()
        # The writer counts a flush once its COMMIT has returned, a moment after the rows
        # are visible on disk.
        while count_results(db_path) < 6 or (await store.facts()).flushed_results < 6:
            assert time.monotonic() - started < 2.0, "second burst not flushed within 2 s"
            await asyncio.sleep(0.02)
        facts = await store.facts()
        assert facts.pending_results == 0
        assert facts.flushed_results == 6


async def test_a_full_batch_is_flushed_without_waiting_for_the_interval(db_path: Path) -> None:
    async with build_store(db_path, flush_interval=60) as store:
        for i in range(1000):  # the writer's max_batch
            store.add_result(record(checked_at=BASE + dt.timedelta(seconds=i)))
        started = time.monotonic()
        while count_results(db_path) < 1000:
            assert time.monotonic() - started < 2.0, "a full batch was not flushed early"
            await asyncio.sleep(0.02)


# -- schema -----------------------------------------------------------------------------------


async def test_migrations_apply_once_and_pragmas_hold(db_path: Path) -> None:
    sqlite_only(db_path, "PRAGMAs and a second file")
    names = [m.__name__ for m in MIGRATIONS]
    assert names[0] == "m001_results_and_rollups"
    async with build_store(db_path) as store:
        assert await store.fetchall("SELECT name FROM migrations ORDER BY rowid") == [
            (name,) for name in names
        ]
        foreign_keys = await store.write(_pragma("foreign_keys"))
        journal_mode = await store.write(_pragma("journal_mode"))
        synchronous = await store.write(_pragma("synchronous"))
        auto_vacuum = await store.write(_pragma("auto_vacuum"))
        size_limit = await store.write(_pragma("journal_size_limit"))
    assert foreign_keys == 1
    assert journal_mode == "wal"
    assert synchronous == 1  # NORMAL
    assert auto_vacuum == 2  # INCREMENTAL: a new file takes it
    assert size_limit == 64 * 1024 * 1024
    first = raw(db_path, "SELECT name, applied_at FROM migrations ORDER BY rowid")
    assert [name for name, _ in first] == names
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]  # persistent in the file

    async with build_store(db_path) as store:
        pass
    assert raw(db_path, "SELECT name, applied_at FROM migrations ORDER BY rowid") == first

    async with aiosqlite.connect(db_path) as conn:
        assert await migrate(conn, MIGRATIONS) == []

    fresh = db_path.with_name("fresh.db")
    async with aiosqlite.connect(fresh, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS) == names
        assert await migrate(conn, MIGRATIONS) == []
    tables = {name for (name,) in raw(fresh, "SELECT name FROM sqlite_master WHERE type='table'")}
    packed = {"monitor_keys", "result_texts", "result_blocks", "latest_details", "hourly_rollups"}
    assert {"migrations", "daily_rollups", *packed} <= tables
    assert "results" not in tables  # m001's table, packed and dropped by m007


def _pragma(name: str) -> Callable[[aiosqlite.Connection], Awaitable[Any]]:
    async def read(db: aiosqlite.Connection) -> Any:
        async with db.execute(f"PRAGMA {name}") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return row[0]

    return read


async def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    async def m900_half_done(db: aiosqlite.Connection) -> None:
        await db.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("migration broke")

    path = tmp_path / "m.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        with pytest.raises(RuntimeError, match="migration broke"):
            await migrate(conn, [m001_results_and_rollups, m900_half_done])
    tables = {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables
    assert "results" in tables
    assert raw(path, "SELECT name FROM migrations") == [("m001_results_and_rollups",)]


async def test_a_path_with_uri_characters_opens(tmp_path: Path) -> None:
    path = tmp_path / "odd dir?x=1#frag %41" / "uplight.db"
    async with build_store(path, flush_interval=60) as store:
        store.add_result(record())
        await store.flush()
        assert len(await recent_results(store, "web")) == 1
    assert path.is_file()
    assert count_results(path) == 1
    # Nothing was created beside it under a mangled name.
    assert sorted(p.name for p in path.parent.iterdir() if p.suffix == ".db") == ["uplight.db"]


# -- writes that fail -------------------------------------------------------------------------


async def test_a_failing_write_rolls_back_and_the_writer_goes_on(
    store: Store, db_path: Path
) -> None:
    for i in range(3):
        store.add_result(record(checked_at=BASE + dt.timedelta(seconds=i)))

    async def insert_then_fail(db: aiosqlite.Connection) -> None:
        await db.execute("INSERT INTO monitor_keys (monitor_id) VALUES ('ghost')")
        raise ValueError("boom from the job")

    with pytest.raises(ValueError, match="boom from the job"):
        await store.write(insert_then_fail)
    # The job's row was rolled back; the results buffered before it were committed.
    assert raw(db_path, "SELECT count(*) FROM monitor_keys WHERE monitor_id = 'ghost'") == [(0,)]
    assert count_results(db_path) == 3

    async def violate_constraint(db: aiosqlite.Connection) -> None:
        await db.execute("INSERT INTO monitor_keys (monitor_id) VALUES (NULL)")

    with pytest.raises(sqlite3.IntegrityError):
        await store.write(violate_constraint)

    async def insert_ok(db: aiosqlite.Connection) -> int:
        cursor = await db.execute("INSERT INTO monitor_keys (monitor_id) VALUES ('manual')")
        return cursor.lastrowid or 0

    assert await store.write(insert_ok) > 0
    store.add_result(record(checked_at=BASE + dt.timedelta(seconds=10)))
    await store.flush()
    assert count_results(db_path) == 4
    assert raw(db_path, "SELECT count(*) FROM monitor_keys WHERE monitor_id = 'ghost'") == [(0,)]
    facts = await store.facts()
    assert facts.failed_flushes == 0
    assert facts.flushed_results == 4


async def test_a_job_that_commits_by_itself_does_not_break_the_writer(
    store: Store, db_path: Path
) -> None:
    async def commit_then_fail(db: aiosqlite.Connection) -> None:
        await db.execute("COMMIT")
        raise ValueError("after commit")

    with pytest.raises(ValueError, match="after commit"):
        await store.write(commit_then_fail)
    store.add_result(record())
    await store.flush()
    assert count_results(db_path) == 1


async def test_writes_after_close_are_refused(db_path: Path) -> None:
    store = build_store(db_path)
    await store.open()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        store.add_result(record())
    with pytest.raises(RuntimeError, match="not open"):
        await store.fetchall("SELECT 1")
    await store.close()  # closing twice is harmless


async def test_writes_racing_close_are_all_answered(db_path: Path) -> None:
    store = build_store(db_path, flush_interval=60)
    await store.open()

    async def insert(db: aiosqlite.Connection) -> str:
        await db.execute(
            "INSERT INTO result_texts AS t (text, last_seen) VALUES ('job', 1)"
            " ON CONFLICT (text) DO UPDATE SET last_seen = t.last_seen + 1"
        )
        return "done"

    writes = [asyncio.create_task(store.write(insert)) for _ in range(5)]
    store.add_result(record())
    await store.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*writes, return_exceptions=True), 2.0)
    assert outcomes == ["done"] * 5
    assert raw(db_path, "SELECT last_seen FROM result_texts WHERE text = 'job'") == [(5,)]
    assert count_results(db_path) == 1


# -- reads ------------------------------------------------------------------------------------


async def test_facts_report_size_and_pending_counts(store: Store, db_path: Path) -> None:
    sqlite_only(db_path, "the file's size (test_postgres.py checks the scrubbed URL)")
    facts = await store.facts()
    assert facts.path == str(db_path)
    assert facts.file_bytes == os.stat(db_path).st_size > 0
    assert facts.pending_results == 0
    assert facts.flushed_results == 0
    assert facts.last_flush is None
    assert facts.queued_writes == 0

    for i in range(7):
        store.add_result(record(checked_at=BASE + dt.timedelta(seconds=i)))
    facts = await store.facts()
    assert facts.pending_results == 7
    assert facts.flushed_results == 0

    before = time.time()
    await store.flush()
    facts = await store.facts()
    assert facts.pending_results == 0
    assert facts.flushed_results == 7
    assert facts.failed_flushes == 0
    assert facts.last_flush is not None
    assert before <= facts.last_flush <= time.time()
    wal = db_path.with_name(db_path.name + "-wal")
    assert facts.wal_bytes == os.stat(wal).st_size > 0
    assert facts.file_bytes == os.stat(db_path).st_size


def test_millisecond_timestamps_round_trip() -> None:
    value = dt.datetime(2024, 3, 10, 23, 59, 59, 999000, tzinfo=dt.UTC)
    assert to_millis(value) == 1710115199999
    assert from_millis(to_millis(value)) == value
    assert math.isclose(to_millis(BASE) / 1000, BASE.timestamp())


async def test_a_write_submitted_while_closing_is_answered(db_path: Path) -> None:
    store = build_store(db_path, flush_interval=60)
    await store.open()
    writer = store.writer
    for i in range(30_000):  # a final flush that takes a while
        store.add_result(record(checked_at=BASE + dt.timedelta(milliseconds=i)))
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0.01)  # the writer is now in its final flush

    async def late(db: aiosqlite.Connection) -> str:
        return "late"

    try:
        outcome: object = await asyncio.wait_for(writer.submit(late), 3.0)
    except RuntimeError as exc:
        outcome = exc
    await closing
    await store.close()
    assert outcome == "late" or isinstance(outcome, RuntimeError)
    assert count_results(db_path) == 30_000


async def test_a_flush_commits_at_most_max_batch_results_per_transaction(
    store: Store, db_path: Path
) -> None:
    for i in range(2500):
        store.add_result(record(checked_at=BASE + dt.timedelta(milliseconds=i)))
    await store.flush()
    stats = store.writer.stats
    assert stats.flushes == 3  # 1000 + 1000 + 500
    assert stats.flushed_results == 2500
    assert stats.pending_results == 0
    assert count_results(db_path) == 2500
