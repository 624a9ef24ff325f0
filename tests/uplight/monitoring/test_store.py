"""Check results and their daily rollups against a real SQLite file: rollups equal a
recount of raw rows, retention, reads."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from uplight.db.store import Store
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring import store as results_store
from uplight.monitoring.store import (
    DailyRollup,
    StoredResult,
    daily_rollups,
    latest_results,
    prune_results,
    recent_results,
)
from uplight.schema import build_store

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
    async with build_store(db_path, flush_interval=60) as opened:
        yield opened


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
    async with build_store(db_path, flush_interval=60) as store:
        # Several transactions, so rows for one day are folded into an existing rollup.
        for start in range(0, len(records), 97):
            for item in records[start : start + 97]:
                store.add_result(item)
            await store.flush()
        api = await daily_rollups(store, ["web", "dns", "tls", "nothing"], dt.date(2024, 2, 28))

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

    deleted = await prune_results(store, cutoff)

    # days 0-2 entirely (30 rows), plus minutes 0 and 1 of day 3 for both monitors (4 rows)
    assert deleted == 34
    assert count_results(db_path) == 60 - 34
    oldest = raw(db_path, "SELECT min(checked_at) FROM results")[0][0]
    assert oldest == int(cutoff.timestamp() * 1000)
    assert raw(db_path, ROLLUPS) == rollups_before
    assert len(rollups_before) == 12
    # Nothing left to delete: a second prune is a no-op.
    assert await prune_results(store, cutoff) == 0
    assert count_results(db_path) == 26


async def test_prune_works_in_chunks(store: Store, db_path: Path) -> None:
    chunk = results_store.PRUNE_CHUNK
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
    deleted = await prune_results(store, BASE - dt.timedelta(days=30))

    assert deleted == old
    assert calls == [chunk, chunk, 123]
    assert count_results(db_path) == 10
    assert raw(db_path, "SELECT sum(checks_total) FROM daily_rollups") == [(old + 10,)]


async def test_prune_with_a_small_chunk_size(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results_store, "PRUNE_CHUNK", 7)
    for i in range(21):
        store.add_result(record("web", BASE - dt.timedelta(hours=i + 1)))
    store.add_result(record("web", BASE))
    await store.flush()
    # 21 old rows: three full chunks, then an empty one ends the loop.
    assert await prune_results(store, BASE) == 21
    assert raw(db_path, "SELECT checked_at FROM results") == [(int(BASE.timestamp() * 1000),)]


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

    latest = await latest_results(store, ["web", "dns", "tls", "unknown"])
    assert set(latest) == {"web", "dns", "tls"}
    assert latest["web"].result.message == "web newest"
    assert latest["dns"].result.message == "dns second"
    assert latest["dns"].result.status is CheckStatus.DOWN
    assert latest["tls"].checked_at == BASE - dt.timedelta(days=3)
    assert await latest_results(store, []) == {}

    recent = await recent_results(store, "web", limit=2)
    assert [r.result.message for r in recent] == ["web newest", "web middle"]
    assert all(isinstance(r, StoredResult) for r in recent)
    everything = await recent_results(store, "web")
    assert [r.result.message for r in everything] == ["web newest", "web middle", "web oldest"]
    since = await recent_results(store, "web", since=BASE + dt.timedelta(minutes=1))
    assert [r.result.message for r in since] == ["web newest", "web middle"]
    assert await recent_results(store, "unknown") == []
