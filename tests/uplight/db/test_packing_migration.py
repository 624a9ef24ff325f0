"""m007 packs the raw results of an existing database in place: a generated database
in the schema before it (m001-m006), rows written as release 0.1.0 wrote them, read
back identically afterwards; a crash part-way leaves the database as it was."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from stored import stored_results

from uplight.db.migrations import migrate
from uplight.db.sql import from_millis, to_millis
from uplight.models import CheckStatus
from uplight.monitoring import migrations_store
from uplight.monitoring.rollups_store import hourly_rollups
from uplight.monitoring.store import StoredResult, latest_statuses, recent_results
from uplight.schema import MIGRATIONS, build_store

BEFORE_M007 = [m for m in MIGRATIONS if m.__name__ < "m007"]
START = to_millis(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
MONITORS = [f"monitor-{i}" for i in range(12)] + ["é ünïcode", "web"]

OldRow = tuple[str, int, str, float | None, str, Any, str | None, int]


async def old_database(path: Path, rows: int, seed: int = 5) -> list[OldRow]:
    """A database as the release before m007 left it, ``rows`` raw results in it."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, BEFORE_M007)
    rng = random.Random(seed)
    values = []
    for i in range(rows):
        monitor_id = rng.choice(MONITORS)
        # Over four days; now and then two results in the same millisecond.
        at = START + (rng.randrange(4 * 86_400_000) if i % 50 else values[-1][1] if values else 0)
        status = rng.choice(("up", "up", "up", "degraded", "down"))
        latency = None if rng.random() < 0.1 else round(rng.uniform(0, 30_000), 3)
        message = rng.choice(("", "200 OK", f"200 OK in {rng.random():.3f}s", "refused ☹"))
        details = rng.choice(("{}", "{}", json.dumps({"phase": "connect", "n": [i]})))
        reason = rng.choice((None,) * 8 + ("exception", "timeout", "some new reason", ""))
        monitor_id = values[-1][0] if i % 50 == 0 and values else monitor_id
        values.append((monitor_id, at, status, latency, message, details, reason, i % 7 == 0))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO results (monitor_id, checked_at, status, latency_ms, message, details,"
            " error_reason, in_maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
    return old_rows(path)


def old_rows(path: Path) -> list[OldRow]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT monitor_id, checked_at, status, latency_ms, message, details, error_reason,"
            " in_maintenance FROM results ORDER BY monitor_id, checked_at, id"
        ).fetchall()
    return [(*row[:5], json.loads(row[5]), *row[6:]) for row in rows]


def as_old_row(stored: StoredResult) -> OldRow:
    result = stored.result
    return (
        stored.monitor_id,
        to_millis(stored.checked_at),
        result.status.value,
        None if result.latency is None else round(result.latency * 1000, 3),
        result.message,
        result.details,
        stored.error_reason,
        int(stored.in_maintenance),
    )


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}


def applied(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM migrations ORDER BY rowid")]


async def test_a_generated_database_is_packed_and_reads_back_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Small chunks and a progress line every 5,000, as a big database has them.
    monkeypatch.setattr(migrations_store, "PROGRESS_EVERY", 5_000)
    monkeypatch.setattr(migrations_store, "FETCH_ROWS", 700)
    monkeypatch.setattr(migrations_store, "INSERT_BLOCKS", 40)
    path = tmp_path / "uplight.db"
    before = await old_database(path, 20_000)

    with caplog.at_level(logging.INFO, logger="uplight.monitoring.migrations_store"):
        async with build_store(path, flush_interval=60) as store:
            by_monitor = {
                m: [as_old_row(r) for r in reversed(await recent_results(store, m, limit=10**6))]
                for m in MONITORS
            }
            statuses = await latest_statuses(store, MONITORS)
            hourly = await hourly_rollups(store, MONITORS, from_millis(START))

    assert [row for m in sorted(MONITORS) for row in by_monitor[m]] == before
    assert [as_old_row(r) for r in stored_results(path)] == before
    for monitor_id in MONITORS:
        newest = [row for row in before if row[0] == monitor_id][-1]
        assert statuses[monitor_id].status == CheckStatus(newest[2])
        assert to_millis(statuses[monitor_id].checked_at) == newest[1]
        counts: dict[int, list[int]] = {}
        for row in before:
            if row[0] == monitor_id:
                hour = counts.setdefault(row[1] - row[1] % 3_600_000, [0, 0, 0])
                hour[0] += 1
                hour[1] += row[2] == "down"
                hour[2] += row[7]
        assert {
            to_millis(h.starts_at): [h.checks_total, h.down_count, h.maintenance_count]
            for h in hourly[monitor_id]
        } == counts

    assert "results" not in tables(path)
    assert "m007_packed_results" in applied(path)
    progress = [r.getMessage() for r in caplog.records]
    assert progress[0] == "packing 20,000 stored check results; this takes a while"
    # One line each time another 5,000 are done (a read of up to 700 rows at a time).
    lines = [
        re.fullmatch(r"packed ([\d,]+) of 20,000 check results \((\d+)%\)", p)
        for p in progress[1:-1]
    ]
    done = [int(m.group(1).replace(",", "")) for m in lines if m]
    assert len(done) == len(lines) == 4
    assert [n // 5_000 for n in done] == [1, 2, 3, 4]
    assert done[-1] == 20_000
    assert progress[-1].startswith("packed 20,000 check results; the old table's ")
    assert progress[-1].endswith(
        " MB are free space in the file: `uplight db compact`,"
        " with the server stopped, gives it back"
    )


async def test_a_crash_part_way_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations_store, "INSERT_BLOCKS", 10)
    path = tmp_path / "uplight.db"
    before = await old_database(path, 3_000)
    schema_before = tables(path)
    calls = 0
    insert_blocks = migrations_store.insert_blocks

    async def crash_on_the_third(db: aiosqlite.Connection, rows: list[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full, say")
        await insert_blocks(db, rows)

    monkeypatch.setattr(migrations_store, "insert_blocks", crash_on_the_third)
    store = build_store(path, flush_interval=60)
    with pytest.raises(OSError, match="disk full"):
        await store.open()
    await store.close()

    assert calls == 3
    assert tables(path) == schema_before
    assert old_rows(path) == before
    assert "m007_packed_results" not in applied(path)

    # The next start does it all again, from the start.
    monkeypatch.setattr(migrations_store, "insert_blocks", insert_blocks)
    async with build_store(path, flush_interval=60):
        pass
    assert [as_old_row(r) for r in stored_results(path)] == before
    assert "m007_packed_results" in applied(path)
