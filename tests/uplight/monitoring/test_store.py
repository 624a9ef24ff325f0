"""Check results and their rollups against a real SQLite file: rollups equal a recount
of raw results, retention, reads, what is kept of details."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from stored import BASE, count_results, raw, record, stored_results

from uplight.db.sql import to_millis
from uplight.db.store import Store
from uplight.models import CheckStatus, ResultRecord
from uplight.monitoring import retention_store
from uplight.monitoring.rollups_store import HourlyRollup, hourly_rollups
from uplight.monitoring.store import (
    DailyRollup,
    LatestStatus,
    StoredResult,
    daily_rollups,
    latest_results,
    latest_statuses,
    prune_results,
    recent_results,
)
from uplight.schema import build_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The database: a SQLite file, or a database on the harness's PostgreSQL server."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
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


def recount(path: Path) -> list[tuple[Any, ...]]:
    """Daily rollup rows counted again from the raw results on disk."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0.0, None])
    for item in stored_results(path):
        row = found[(item.monitor_id, item.checked_at.date().isoformat())]
        row[0] += 1
        row[1 + list(CheckStatus).index(item.result.status)] += 1
        row[4] += int(item.in_maintenance)
        if item.result.latency is not None:
            latency_ms = item.result.latency * 1000
            row[5] += 1
            row[6] += latency_ms
            row[7] = latency_ms if row[7] is None else max(row[7], latency_ms)
    return [(*key, *values) for key, values in sorted(found.items())]


ROLLUPS = """
SELECT monitor_id, day, checks_total, up_count, degraded_count, down_count, maintenance_count,
    latency_count, latency_sum_ms, latency_max_ms
FROM daily_rollups ORDER BY monitor_id, day
"""


def assert_rows_match(
    actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]], rel: float = 1e-9
) -> None:
    assert [row[:8] for row in actual] == [row[:8] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got[8] == pytest.approx(want[8], rel=rel), got[:2]
        assert got[9] == (None if want[9] is None else pytest.approx(want[9], rel=rel)), got[:2]


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

    rollups = raw(db_path, ROLLUPS)
    assert sum(row[2] for row in rollups) == len(records) == count_results(db_path)
    assert len(rollups) == 15  # 3 monitors x 5 days
    # Raw latencies are kept to the microsecond; rollups add the exact ones.
    assert_rows_match(rollups, recount(db_path), rel=1e-6)

    expected = expected_rollups(records)
    as_rows = [(*key, *values) for key, values in sorted(expected.items())]
    assert_rows_match(rollups, as_rows)

    # The midnight records land on both sides of the boundary.
    midnight = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    on_disk = stored_results(db_path)
    assert sum(r.monitor_id == "web" and r.checked_at == midnight for r in on_disk) == 2
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
    assert min(r.checked_at for r in stored_results(db_path)) == cutoff
    assert raw(db_path, ROLLUPS) == rollups_before
    assert len(rollups_before) == 12
    # Nothing left to delete: a second prune is a no-op.
    assert await prune_results(store, cutoff) == 0
    assert count_results(db_path) == 26


async def test_prune_works_monitor_by_monitor_in_chunks_of_blocks(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_store, "PRUNE_CHUNK", 4)
    for monitor_id in ("a", "b", "c"):
        for hour in range(10):  # ten hours: ten blocks
            store.add_result(record(monitor_id, BASE - dt.timedelta(days=40, hours=hour)))
        store.add_result(record(monitor_id, BASE))
    await store.flush()
    assert count_results(db_path) == 33

    calls: list[Any] = []
    write = store.write

    async def counting_write(fn: Callable[[aiosqlite.Connection], Awaitable[Any]]) -> Any:
        value = await write(fn)
        calls.append(value)
        return value

    store.write = counting_write  # type: ignore[method-assign]
    deleted = await prune_results(store, BASE - dt.timedelta(days=30))

    assert deleted == 30
    # (results deleted, more to do) per transaction; then texts and latest details.
    assert calls == [(4, True), (4, True), (2, False)] * 3 + [None]
    assert count_results(db_path) == 3
    assert raw(db_path, "SELECT sum(checks_total) FROM daily_rollups") == [(33,)]


async def test_prune_with_a_small_chunk_size(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_store, "PRUNE_CHUNK", 7)
    for i in range(21):
        store.add_result(record("web", BASE - dt.timedelta(hours=i + 1)))
    store.add_result(record("web", BASE))
    await store.flush()
    # 21 old rows: three full chunks, then an empty one ends the loop.
    assert await prune_results(store, BASE) == 21
    assert [r.checked_at for r in stored_results(db_path)] == [BASE]


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


async def test_latest_statuses_follow_time_not_arrival(store: Store) -> None:
    store.add_result(record("web", BASE + dt.timedelta(minutes=5), CheckStatus.DOWN))
    store.add_result(record("dns", BASE, CheckStatus.DEGRADED))
    await store.flush()
    # Later flushes: an older web result changes nothing; a same-millisecond dns result
    # stored later is the newer one; tls lands in a new hour.
    store.add_result(record("web", BASE + dt.timedelta(minutes=1), CheckStatus.UP))
    store.add_result(record("dns", BASE, CheckStatus.UP))
    store.add_result(record("tls", BASE - dt.timedelta(hours=3), CheckStatus.DOWN))
    await store.flush()
    store.add_result(record("tls", BASE + dt.timedelta(hours=2), CheckStatus.UP))
    await store.flush()

    found = await latest_statuses(store, ["web", "dns", "tls", "nothing", "web"])
    assert found == {
        "web": LatestStatus(CheckStatus.DOWN, BASE + dt.timedelta(minutes=5)),
        "dns": LatestStatus(CheckStatus.UP, BASE),
        "tls": LatestStatus(CheckStatus.UP, BASE + dt.timedelta(hours=2)),
    }
    latest = await latest_results(store, ["web", "dns", "tls"])
    assert {m: (r.result.status, r.checked_at) for m, r in latest.items()} == {
        m: (s.status, s.checked_at) for m, s in found.items()
    }
    many = [f"m{i}" for i in range(1200)]  # more than one statement's worth
    for i, monitor_id in enumerate(many):
        store.add_result(record(monitor_id, BASE + dt.timedelta(seconds=i)))
    await store.flush()
    assert len(await latest_statuses(store, many)) == 1200


async def test_details_are_kept_unless_an_up_result_is_no_longer_the_newest(
    store: Store,
) -> None:
    timings = {"status_code": 200, "phases": {"connect": 0.001, "ttfb": 0.012}}
    store.add_result(record("web", BASE, details=timings))
    store.add_result(
        record("web", BASE + dt.timedelta(minutes=1), CheckStatus.DOWN, details={"phase": "dns"})
    )
    store.add_result(
        record(
            "web",
            BASE + dt.timedelta(minutes=2),
            details={"why": "plugin"},
            error_reason="invalid_result",
        )
    )
    store.add_result(record("web", BASE + dt.timedelta(minutes=3), details={"n": 3}))
    await store.flush()

    def details(results: list[StoredResult]) -> list[dict[str, Any]]:
        return [r.result.details for r in results]

    assert details(await recent_results(store, "web")) == [
        {"n": 3},  # the newest keeps its details
        {"why": "plugin"},  # an error reason: kept
        {"phase": "dns"},  # not up: kept
        {},  # an up result that is no longer the newest: dropped
    ]
    assert (await latest_results(store, ["web"]))["web"].result.details == {"n": 3}

    # An older up result arriving late keeps none; a newer one with none empties the rest.
    store.add_result(record("web", BASE + dt.timedelta(seconds=30), details={"late": True}))
    store.add_result(record("web", BASE + dt.timedelta(minutes=4)))
    await store.flush()
    assert details(await recent_results(store, "web")) == [
        {},
        {},
        {"why": "plugin"},
        {"phase": "dns"},
        {},
        {},
    ]

    # Two up results in the same millisecond: the one stored later is the newest.
    at = BASE + dt.timedelta(minutes=5)
    store.add_result(record("web", at, details={"first": 1}))
    store.add_result(record("web", at, details={"second": 2}))
    await store.flush()
    newest = await recent_results(store, "web", limit=2)
    assert details(newest) == [{"second": 2}, {}]
    assert (await latest_results(store, ["web"]))["web"].result.details == {"second": 2}


async def test_messages_are_stored_once_each(store: Store, db_path: Path) -> None:
    for i in range(300):
        message = ("200 OK", "200 OK in 0.012s", "")[i % 3]
        store.add_result(record(f"m{i % 10}", BASE + dt.timedelta(seconds=i), message=message))
    store.add_result(record("m0", BASE, CheckStatus.DOWN, None, "boom", error_reason="odd reason"))
    await store.flush()
    texts = dict(raw(db_path, "SELECT text, last_seen FROM result_texts"))
    # The empty message is not stored; last_seen is the newest result using the text.
    assert texts == {
        "200 OK": to_millis(BASE + dt.timedelta(seconds=297)),
        "200 OK in 0.012s": to_millis(BASE + dt.timedelta(seconds=298)),
        "boom": to_millis(BASE),
        "odd reason": to_millis(BASE),
    }
    on_disk = stored_results(db_path)
    assert [r.result.message for r in on_disk if r.monitor_id == "m1"][:3] == [
        "200 OK in 0.012s",
        "",
        "200 OK",
    ]
    (odd,) = [r for r in on_disk if r.error_reason]
    assert (odd.result.message, odd.error_reason, odd.result.latency) == (
        "boom",
        "odd reason",
        None,
    )


async def test_hourly_rollups_equal_a_recount(db_path: Path) -> None:
    records = random_records(random.Random(11), 300)
    async with build_store(db_path, flush_interval=60) as store:
        for start in range(0, len(records), 50):
            for item in records[start : start + 50]:
                store.add_result(item)
            await store.flush()
        since = dt.datetime(2024, 2, 28, 5, 30, tzinfo=dt.UTC)
        hourly = await hourly_rollups(store, ["web", "dns", "tls", "nothing"], since)

    expected: dict[tuple[str, dt.datetime], list[Any]] = defaultdict(
        lambda: [0, 0, 0, 0, 0, 0, 0.0, None]
    )
    for item in records:
        hour = item.checked_at.replace(minute=0, second=0, microsecond=0)
        if hour + dt.timedelta(hours=1) <= since:
            continue
        row = expected[(item.monitor_id, hour)]
        row[0] += 1
        row[1 + list(CheckStatus).index(item.result.status)] += 1
        row[4] += int(item.in_maintenance)
        if item.result.latency is not None:
            row[5] += 1
            row[6] += item.result.latency * 1000
            row[7] = max(row[7] or 0.0, item.result.latency * 1000)
    assert hourly["nothing"] == []
    got = {(r.monitor_id, r.starts_at): r for rollups in hourly.values() for r in rollups}
    assert sorted(got) == sorted(expected)
    assert min(r.starts_at for r in got.values()) == dt.datetime(2024, 2, 28, 5, tzinfo=dt.UTC)
    for key, want in expected.items():
        rollup = got[key]
        assert isinstance(rollup, HourlyRollup)
        assert (
            rollup.checks_total,
            rollup.up_count,
            rollup.degraded_count,
            rollup.down_count,
            rollup.maintenance_count,
            rollup.latency_count,
        ) == tuple(want[:6])
        assert rollup.latency_sum_ms == pytest.approx(want[6])
        assert rollup.latency_max_ms == (None if want[7] is None else pytest.approx(want[7]))
    for rollups in hourly.values():
        assert [r.starts_at for r in rollups] == sorted(r.starts_at for r in rollups)


async def test_prune_takes_hourly_rollups_texts_and_old_details_when_asked(
    store: Store, db_path: Path
) -> None:
    for day in range(4):
        at = BASE - dt.timedelta(days=day)
        store.add_result(record("web", at, message=f"day {day}", details={"day": day}))
        store.add_result(record("gone", at - dt.timedelta(days=10), message="gone"))
    await store.flush()
    assert len(raw(db_path, "SELECT * FROM hourly_rollups")) == 8

    cutoff = BASE - dt.timedelta(days=1, hours=12)
    deleted = await prune_results(store, cutoff, hourly_before=BASE - dt.timedelta(days=2))

    assert deleted == 6  # web's days 2 and 3, all four of gone's
    assert [r.result.message for r in stored_results(db_path)] == ["day 1", "day 0"]
    hours = raw(db_path, "SELECT starts_at FROM hourly_rollups ORDER BY starts_at")
    # Hours that ended by the hourly cutoff go; the one starting at it stays.
    assert hours == [(to_millis(BASE - dt.timedelta(days=d)),) for d in (2, 1, 0)]
    # Texts used only by results before the cutoff (less a day's grace) go.
    texts = {text for (text,) in raw(db_path, "SELECT text FROM result_texts")}
    assert texts == {"day 0", "day 1", "day 2"}
    assert raw(db_path, "SELECT count(*) FROM latest_details") == [(1,)]
    assert raw(db_path, "SELECT sum(checks_total) FROM daily_rollups") == [(8,)]

    # Everything before the newest result: web's latest details go with it.
    await prune_results(store, BASE + dt.timedelta(days=3))
    assert count_results(db_path) == 0
    assert raw(db_path, "SELECT count(*) FROM latest_details") == [(0,)]
    assert await latest_statuses(store, ["web"]) == {}
    assert await recent_results(store, "web") == []


async def test_free_pages_go_back_to_the_file_system(store: Store, db_path: Path) -> None:
    if not isinstance(db_path, Path):
        pytest.skip("SQLite only: PostgreSQL's autovacuum reclaims space itself")
    for i in range(20_000):
        store.add_result(
            record(
                f"m{i % 20}",
                BASE - dt.timedelta(days=60, minutes=i),
                CheckStatus.DOWN,
                message=f"unique message {i}",
                details={"padding": "x" * 100},
            )
        )
    await store.flush()
    await prune_results(store, BASE)
    free = raw(db_path, "PRAGMA freelist_count")[0][0]
    pages = raw(db_path, "PRAGMA page_count")[0][0]
    assert free > 100

    reclaimed = await store.reclaim_space(pages_per_step=40)

    assert reclaimed == free
    assert raw(db_path, "PRAGMA freelist_count") == [(0,)]
    left = raw(db_path, "PRAGMA page_count")[0][0]
    assert left <= pages - free  # pointer-map pages that served only free ones go too
    raw(db_path, "PRAGMA wal_checkpoint(TRUNCATE)")  # where the file shrinks
    assert os.stat(db_path).st_size == left * 4096
    assert await store.reclaim_space() == 0
