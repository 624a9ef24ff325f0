"""The store against a real SQLite file: durability, rollups, retention, migrations."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import random
import sqlite3
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from uplight.db import store as database_module
from uplight.db.migrations import MIGRATIONS, m001_results_and_rollups, migrate
from uplight.db.store import Store, retention_cutoff
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.store import DailyRollup, StoredResult

BASE = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def record(
    monitor_id: str = "web",
    checked_at: dt.datetime = BASE,
    status: CheckStatus = CheckStatus.UP,
    latency: float | None = 0.125,
    message: str = "200 OK",
    *,
    details: dict[str, Any] | None = None,
    error_reason: str | None = None,
    in_maintenance: bool = False,
) -> ResultRecord:
    result = CheckResult(status, latency, message, details if details is not None else {})
    return ResultRecord(monitor_id, checked_at, result, error_reason, in_maintenance)


def raw(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read with a plain sqlite3 connection, independent of the store."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def count_results(path: Path) -> int:
    return raw(path, "SELECT count(*) FROM results")[0][0]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "uplight.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    async with Store(db_path, flush_interval=60) as opened:
        yield opened


# -- durability -----------------------------------------------------------------------------


async def test_buffered_results_are_written_on_close(db_path: Path) -> None:
    store = Store(db_path, flush_interval=60)
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
    assert raw(db_path, "SELECT count(*) FROM results WHERE monitor_id = 'web'") == [(10,)]
    assert raw(
        db_path,
        "SELECT checked_at, status, latency_ms, message, details, error_reason, in_maintenance"
        " FROM results WHERE monitor_id = 'dns'",
    ) == [
        (
            int(BASE.timestamp() * 1000),
            "down",
            None,
            "check plugin 'dns' failed: boom",
            '{"phase":"resolve","n":[1,2]}',
            "exception",
            1,
        )
    ]

    async with Store(db_path, flush_interval=60) as reopened:
        recent = await reopened.recent_results("web", limit=100)
        dns = await reopened.recent_results("dns")
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
    async with Store(db_path, flush_interval=0.2) as store:
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
        while count_results(db_path) < 6:
            assert time.monotonic() - started < 2.0, "second burst not flushed within 2 s"
            await asyncio.sleep(0.02)
        facts = await store.facts()
        assert facts.pending_results == 0
        assert facts.flushed_results == 6


async def test_a_full_batch_is_flushed_without_waiting_for_the_interval(db_path: Path) -> None:
    async with Store(db_path, flush_interval=60) as store:
        for i in range(1000):  # the writer's max_batch
            store.add_result(record(checked_at=BASE + dt.timedelta(seconds=i)))
        started = time.monotonic()
        while count_results(db_path) < 1000:
            assert time.monotonic() - started < 2.0, "a full batch was not flushed early"
            await asyncio.sleep(0.02)


# -- rollups --------------------------------------------------------------------------------


def random_records(rng: random.Random, count: int) -> list[ResultRecord]:
    monitors = ["web", "dns", "tls"]
    start = dt.datetime(2024, 2, 27, 0, 0, tzinfo=dt.UTC)  # spans Feb 29 of a leap year
    records = []
    for _ in range(count):
        checked_at = start + dt.timedelta(milliseconds=rng.randrange(5 * 86_400_000))
        records.append(
            record(
                rng.choice(monitors),
                checked_at,
                rng.choice(list(CheckStatus)),
                None if rng.random() < 0.2 else round(rng.uniform(0.001, 3.0), 6),
                in_maintenance=rng.random() < 0.15,
            )
        )
    # Around every midnight: the last millisecond of a day and the first of the next.
    for day in range(1, 5):
        midnight = start + dt.timedelta(days=day)
        for monitor_id in monitors:
            records.append(record(monitor_id, midnight - dt.timedelta(milliseconds=1), latency=1.0))
            records.append(record(monitor_id, midnight, CheckStatus.DOWN, latency=2.0))
            records.append(record(monitor_id, midnight, CheckStatus.DEGRADED, latency=None))
    rng.shuffle(records)
    return records


def expected_rollups(records: list[ResultRecord]) -> dict[tuple[str, str], list[Any]]:
    """Counted in Python from the records themselves, independently of SQL."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0.0, None])
    for item in records:
        day = item.checked_at.astimezone(dt.UTC).date().isoformat()
        row = found[(item.monitor_id, day)]
        row[0] += 1
        row[1 + list(CheckStatus).index(item.result.status)] += 1
        row[4] += int(item.in_maintenance)
        if item.result.latency is not None:
            latency_ms = item.result.latency * 1000
            row[5] += 1
            row[6] += latency_ms
            row[7] = latency_ms if row[7] is None else max(row[7], latency_ms)
    return dict(found)


RECOUNT = """
SELECT monitor_id, strftime('%Y-%m-%d', checked_at / 1000, 'unixepoch') AS day,
    count(*), sum(status = 'up'), sum(status = 'degraded'), sum(status = 'down'),
    sum(in_maintenance), count(latency_ms), total(latency_ms), max(latency_ms)
FROM results GROUP BY monitor_id, day ORDER BY monitor_id, day
"""

ROLLUPS = """
SELECT monitor_id, day, checks_total, up_count, degraded_count, down_count, maintenance_count,
    latency_count, latency_sum_ms, latency_max_ms
FROM daily_rollups ORDER BY monitor_id, day
"""


def assert_rows_match(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    assert [row[:8] for row in actual] == [row[:8] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got[8] == pytest.approx(want[8], rel=1e-9), got[:2]
        assert got[9] == (None if want[9] is None else pytest.approx(want[9])), got[:2]


async def test_rollups_equal_a_recount_of_raw_rows(db_path: Path) -> None:
    rng = random.Random(20240229)
    records = random_records(rng, 400)
    async with Store(db_path, flush_interval=60) as store:
        # Several transactions, so rows for one day are folded into an existing rollup.
        for start in range(0, len(records), 97):
            for item in records[start : start + 97]:
                store.add_result(item)
            await store.flush()
        api = await store.daily_rollups(["web", "dns", "tls", "nothing"], dt.date(2024, 2, 28))

    recount = raw(db_path, RECOUNT)
    rollups = raw(db_path, ROLLUPS)
    assert sum(row[2] for row in rollups) == len(records) == count_results(db_path)
    assert len(rollups) == 15  # 3 monitors x 5 days
    assert_rows_match(rollups, recount)

    expected = expected_rollups(records)
    as_rows = [(*key, *values) for key, values in sorted(expected.items())]
    assert_rows_match(rollups, as_rows)

    # The midnight records land on both sides of the boundary.
    march_1 = raw(
        db_path,
        "SELECT count(*) FROM results WHERE monitor_id = 'web' AND checked_at = ?",
        (int(dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp() * 1000),),
    )
    assert march_1 == [(2,)]
    assert expected[("web", "2024-02-29")][0] >= 1
    assert expected[("web", "2024-03-01")][0] >= 2

    # The read API returns the same numbers, from `since` on, oldest first, by monitor.
    assert api["nothing"] == []
    assert [r.day for r in api["web"]] == [
        dt.date(2024, 2, 28),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 2),
    ]
    for monitor_id in ("web", "dns", "tls"):
        for rollup in api[monitor_id]:
            want = expected[(monitor_id, rollup.day.isoformat())]
            assert isinstance(rollup, DailyRollup)
            assert (
                rollup.checks_total,
                rollup.up_count,
                rollup.degraded_count,
                rollup.down_count,
                rollup.maintenance_count,
                rollup.latency_count,
            ) == tuple(want[:6])
            assert rollup.latency_sum_ms == pytest.approx(want[6])
            assert rollup.uptime == pytest.approx((want[1] + want[2]) / want[0])
            avg = want[6] / want[5] if want[5] else None
            assert rollup.latency_avg_ms == (None if avg is None else pytest.approx(avg))


async def test_rollup_latency_max_ignores_missing_latencies(store: Store, db_path: Path) -> None:
    store.add_result(record("web", BASE, latency=None))
    await store.flush()
    assert raw(
        db_path, "SELECT latency_count, latency_sum_ms, latency_max_ms FROM daily_rollups"
    ) == [(0, 0.0, None)]
    store.add_result(record("web", BASE, latency=0.5))
    await store.flush()
    store.add_result(record("web", BASE, latency=None))
    store.add_result(record("web", BASE, latency=0.25))
    await store.flush()
    assert raw(
        db_path,
        "SELECT checks_total, latency_count, latency_sum_ms, latency_max_ms FROM daily_rollups",
    ) == [(4, 2, 750.0, 500.0)]


# -- retention --------------------------------------------------------------------------------


async def test_prune_deletes_only_older_raw_rows_and_keeps_rollups(
    store: Store, db_path: Path
) -> None:
    for day in range(6):
        for i in range(5):
            store.add_result(record("web", BASE + dt.timedelta(days=day, minutes=i)))
            store.add_result(record("dns", BASE + dt.timedelta(days=day, minutes=i), latency=None))
    await store.flush()
    rollups_before = raw(db_path, ROLLUPS)
    cutoff = BASE + dt.timedelta(days=3, minutes=2)

    deleted = await store.prune_results(cutoff)

    # days 0-2 entirely (30 rows), plus minutes 0 and 1 of day 3 for both monitors (4 rows)
    assert deleted == 34
    assert count_results(db_path) == 60 - 34
    oldest = raw(db_path, "SELECT min(checked_at) FROM results")[0][0]
    assert oldest == int(cutoff.timestamp() * 1000)
    assert raw(db_path, ROLLUPS) == rollups_before
    assert len(rollups_before) == 12
    # Nothing left to delete: a second prune is a no-op.
    assert await store.prune_results(cutoff) == 0
    assert count_results(db_path) == 26


async def test_prune_works_in_chunks(store: Store, db_path: Path) -> None:
    chunk = database_module.PRUNE_CHUNK
    old = 2 * chunk + 123
    for i in range(old):
        store.add_result(record(f"m{i % 7}", BASE - dt.timedelta(days=40, seconds=i)))
    for i in range(10):
        store.add_result(record("web", BASE + dt.timedelta(seconds=i)))
    await store.flush()
    assert count_results(db_path) == old + 10

    calls: list[int] = []
    write = store.write

    async def counting_write(fn: Callable[[aiosqlite.Connection], Awaitable[Any]]) -> Any:
        value = await write(fn)
        calls.append(value)
        return value

    store.write = counting_write  # type: ignore[method-assign]
    deleted = await store.prune_results(retention_cutoff(30, now=BASE))

    assert deleted == old
    assert calls == [chunk, chunk, 123]
    assert count_results(db_path) == 10
    assert raw(db_path, "SELECT sum(checks_total) FROM daily_rollups") == [(old + 10,)]


async def test_prune_with_a_small_chunk_size(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PRUNE_CHUNK", 7)
    for i in range(21):
        store.add_result(record("web", BASE - dt.timedelta(hours=i + 1)))
    store.add_result(record("web", BASE))
    await store.flush()
    # 21 old rows: three full chunks, then an empty one ends the loop.
    assert await store.prune_results(BASE) == 21
    assert raw(db_path, "SELECT checked_at FROM results") == [(int(BASE.timestamp() * 1000),)]


def test_retention_cutoff() -> None:
    assert retention_cutoff(30, now=BASE) == BASE - dt.timedelta(days=30)


# -- schema -----------------------------------------------------------------------------------


async def test_migrations_apply_once_and_pragmas_hold(db_path: Path) -> None:
    names = [m.__name__ for m in MIGRATIONS]
    assert names[0] == "m001_results_and_rollups"
    async with Store(db_path) as store:
        assert await store.fetchall("SELECT name FROM migrations ORDER BY rowid") == [
            (name,) for name in names
        ]
        foreign_keys = await store.write(_pragma("foreign_keys"))
        journal_mode = await store.write(_pragma("journal_mode"))
        synchronous = await store.write(_pragma("synchronous"))
    assert foreign_keys == 1
    assert journal_mode == "wal"
    assert synchronous == 1  # NORMAL
    first = raw(db_path, "SELECT name, applied_at FROM migrations ORDER BY rowid")
    assert [name for name, _ in first] == names
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]  # persistent in the file

    async with Store(db_path) as store:
        pass
    assert raw(db_path, "SELECT name, applied_at FROM migrations ORDER BY rowid") == first

    async with aiosqlite.connect(db_path) as conn:
        assert await migrate(conn) == []

    fresh = db_path.with_name("fresh.db")
    async with aiosqlite.connect(fresh, isolation_level=None) as conn:
        assert await migrate(conn) == names
        assert await migrate(conn) == []
    tables = {name for (name,) in raw(fresh, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"migrations", "results", "daily_rollups"} <= tables


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
    async with Store(path, flush_interval=60) as store:
        store.add_result(record())
        await store.flush()
        assert len(await store.recent_results("web")) == 1
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
        await db.execute(
            "INSERT INTO results (monitor_id, checked_at, status) VALUES ('ghost', 1, 'up')"
        )
        raise ValueError("boom from the job")

    with pytest.raises(ValueError, match="boom from the job"):
        await store.write(insert_then_fail)
    # The job's row was rolled back; the results buffered before it were committed.
    assert raw(db_path, "SELECT count(*) FROM results WHERE monitor_id = 'ghost'") == [(0,)]
    assert count_results(db_path) == 3

    async def violate_check(db: aiosqlite.Connection) -> None:
        await db.execute(
            "INSERT INTO results (monitor_id, checked_at, status) VALUES ('ghost', 1, 'weird')"
        )

    with pytest.raises(sqlite3.IntegrityError):
        await store.write(violate_check)

    async def insert_ok(db: aiosqlite.Connection) -> int:
        cursor = await db.execute(
            "INSERT INTO results (monitor_id, checked_at, status) VALUES ('manual', 2, 'up')"
        )
        return cursor.lastrowid or 0

    assert await store.write(insert_ok) > 0
    store.add_result(record(checked_at=BASE + dt.timedelta(seconds=10)))
    await store.flush()
    assert count_results(db_path) == 5
    assert raw(db_path, "SELECT count(*) FROM results WHERE monitor_id = 'ghost'") == [(0,)]
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
    store = Store(db_path)
    await store.open()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        store.add_result(record())
    with pytest.raises(RuntimeError, match="not open"):
        await store.fetchall("SELECT 1")
    await store.close()  # closing twice is harmless


async def test_writes_racing_close_are_all_answered(db_path: Path) -> None:
    store = Store(db_path, flush_interval=60)
    await store.open()

    async def insert(db: aiosqlite.Connection) -> str:
        await db.execute(
            "INSERT INTO results (monitor_id, checked_at, status) VALUES ('job', 1, 'up')"
        )
        return "done"

    writes = [asyncio.create_task(store.write(insert)) for _ in range(5)]
    store.add_result(record())
    await store.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*writes, return_exceptions=True), 2.0)
    assert outcomes == ["done"] * 5
    assert count_results(db_path) == 6


# -- reads ------------------------------------------------------------------------------------


async def test_latest_and_recent_results(store: Store) -> None:
    store.add_result(record("web", BASE + dt.timedelta(minutes=2), message="web newest"))
    store.add_result(record("web", BASE, message="web oldest"))
    store.add_result(record("web", BASE + dt.timedelta(minutes=1), message="web middle"))
    store.add_result(record("dns", BASE + dt.timedelta(minutes=5), message="dns first"))
    # Same timestamp: the later insert (higher id) wins.
    store.add_result(
        record("dns", BASE + dt.timedelta(minutes=5), CheckStatus.DOWN, message="dns second")
    )
    store.add_result(record("tls", BASE - dt.timedelta(days=3), message="tls old"))
    await store.flush()

    latest = await store.latest_results(["web", "dns", "tls", "unknown"])
    assert set(latest) == {"web", "dns", "tls"}
    assert latest["web"].result.message == "web newest"
    assert latest["dns"].result.message == "dns second"
    assert latest["dns"].result.status is CheckStatus.DOWN
    assert latest["tls"].checked_at == BASE - dt.timedelta(days=3)
    assert await store.latest_results([]) == {}

    recent = await store.recent_results("web", limit=2)
    assert [r.result.message for r in recent] == ["web newest", "web middle"]
    assert all(isinstance(r, StoredResult) for r in recent)
    everything = await store.recent_results("web")
    assert [r.result.message for r in everything] == ["web newest", "web middle", "web oldest"]
    since = await store.recent_results("web", since=BASE + dt.timedelta(minutes=1))
    assert [r.result.message for r in since] == ["web newest", "web middle"]
    assert await store.recent_results("unknown") == []


async def test_facts_report_size_and_pending_counts(store: Store, db_path: Path) -> None:
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
    from uplight.monitoring.store import from_millis, to_millis

    value = dt.datetime(2024, 3, 10, 23, 59, 59, 999000, tzinfo=dt.UTC)
    assert to_millis(value) == 1710115199999
    assert from_millis(to_millis(value)) == value
    assert math.isclose(to_millis(BASE) / 1000, BASE.timestamp())


async def test_a_write_submitted_while_closing_is_answered(db_path: Path) -> None:
    store = Store(db_path, flush_interval=60)
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
