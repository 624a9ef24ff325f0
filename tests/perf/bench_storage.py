"""Storage: bytes on disk per check result, against release 0.1.0's layout (``m001``: a
row per result) in the same run, and what 1,000 monitors checked once a minute take
after 90 days, extrapolated from it.

Simulated: ``monitors`` monitors checking once a minute for ``days`` days, each at its
own second of the minute, HTTP-like results (mostly up, the message carrying the
latency, ``"200 OK in 0.012s"``, and timing details; 1 % down with their own message
and details). uplight stores them through the real store (``Store.add_result``, the
writer, a flush per simulated minute) and prunes every simulated hour as the runtime
does, keeping ``keep`` days of raw results, then gives free pages back; the file is in
the state pruning leaves it in (the steady state), not freshly written. The baseline
is the same results as ``m001`` rows (plain ``sqlite3``), pruned the same way.

Bytes are pages in use per table (SQLite's ``dbstat``): free pages are not counted,
so the old layout, which never gave space back, is not charged for them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite

from uplight.db.migrations import migrate
from uplight.db.sql import to_millis
from uplight.models import CheckResult, ResultRecord
from uplight.monitoring.migrations_store import m001_results_and_rollups
from uplight.monitoring.store import HOURLY_ROLLUPS_KEPT, prune_results
from uplight.schema import build_store

from .common import Comparison

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
GOAL_BYTES = 1_000_000_000
# The goal's load: 1,000 monitors once a minute for 90 days, raw results kept for the
# default retention of 30 days, hourly rollups for 90, daily rollups for ever.
GOAL_MONITORS, GOAL_DAYS, RETENTION_DAYS = 1_000, 90, 30
PER_DAY = 1_440

RAW_TABLES = ("result_blocks", "sqlite_autoindex_result_blocks_1", "result_texts")
RAW_TABLES += ("sqlite_autoindex_result_texts_1", "latest_details", "monitor_keys")
RAW_TABLES += ("sqlite_autoindex_monitor_keys_1",)
OLD_RAW_TABLES = ("results", "results_by_monitor", "results_by_time")


def simulated_results(monitors: int, days: float, seed: int = 11) -> list[list[ResultRecord]]:
    """Each simulated minute's results."""
    rng = random.Random(seed)
    phase = [rng.randrange(60_000) for _ in range(monitors)]
    minutes = []
    for minute in range(int(days * PER_DAY)):
        batch = []
        for m in sorted(range(monitors), key=phase.__getitem__):
            at = START + dt.timedelta(minutes=minute, milliseconds=phase[m])
            latency = min(rng.lognormvariate(math.log(0.012), 0.8), 9.0)
            connect = round(latency * rng.uniform(0.05, 0.3), 6)
            phases = {"connect": connect, "ttfb": round(latency - connect, 6)}
            if rng.random() < 0.01:
                result = CheckResult.down(
                    "connection refused (connect)", None, phases={"connect": connect}
                )
            else:
                result = CheckResult.up(
                    f"200 OK in {latency:.3f}s",
                    latency,
                    status_code=200,
                    phases=phases,
                    redirects=0,
                    body_bytes_read=1_234,
                )
            batch.append(ResultRecord(f"monitor-{m:04d}", at, result))
        minutes.append(batch)
    return minutes


def table_bytes(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))


def row_count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0] or 0)


async def store_run(path: Path, minutes: list[list[ResultRecord]], keep: float) -> float:
    """The store, a flush per minute, a prune pass per hour; seconds taken."""
    started = time.perf_counter()
    async with build_store(path, flush_interval=3600) as store:
        for i, batch in enumerate(minutes):
            for record in batch:
                store.add_result(record)
            await store.flush()
            if i % 60 == 59:
                now = batch[-1].checked_at
                await prune_results(
                    store,
                    now - dt.timedelta(days=keep),
                    hourly_before=now - HOURLY_ROLLUPS_KEPT,
                )
                await store.reclaim_space()
    return time.perf_counter() - started


def old_row(record: ResultRecord) -> tuple[Any, ...]:
    """A result as release 0.1.0's insert wrote it."""
    result = record.result
    return (
        record.monitor_id,
        to_millis(record.checked_at),
        result.status.value,
        None if result.latency is None else result.latency * 1000,
        result.message,
        json.dumps(result.details, default=str, separators=(",", ":")),
        record.error_reason,
        int(record.in_maintenance),
    )


def old_run(path: Path, minutes: list[list[ResultRecord]], keep: float) -> None:
    async def schema() -> None:
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            await migrate(conn, [m001_results_and_rollups])

    asyncio.run(schema())
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # bytes are measured here, not time
        for i, batch in enumerate(minutes):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO results (monitor_id, checked_at, status, latency_ms, message,"
                " details, error_reason, in_maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [old_row(r) for r in batch],
            )
            conn.execute("COMMIT")
            if i % 60 == 59:  # the old prune: chunks of 5,000 rows by time
                cutoff = to_millis(batch[-1].checked_at - dt.timedelta(days=keep))
                while conn.execute(
                    "DELETE FROM results WHERE id IN"
                    " (SELECT id FROM results WHERE checked_at < ? LIMIT 5000)",
                    (cutoff,),
                ).rowcount:
                    pass
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def run(quick: bool = False) -> list[Comparison]:
    monitors, days, keep = (100, 1.0, 0.5) if quick else (1_000, 1.5, 0.5)
    minutes = simulated_results(monitors, days)
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        new_path, old_path = Path(tmp) / "uplight.db", Path(tmp) / "release-0.1.0.db"
        seconds = asyncio.run(store_run(new_path, minutes, keep))
        old_run(old_path, minutes, keep)
        with sqlite3.connect(new_path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        new_tables, old_tables = table_bytes(new_path), table_bytes(old_path)
        kept = row_count(new_path, "SELECT sum(count) FROM result_blocks")
        old_kept = row_count(old_path, "SELECT count(*) FROM results")
        hours = row_count(new_path, "SELECT count(*) FROM hourly_rollups")
        day_rows = row_count(new_path, "SELECT count(*) FROM daily_rollups")
        file_bytes = new_path.stat().st_size
    assert kept == old_kept, (kept, old_kept)
    per_result = sum(new_tables.get(t, 0) for t in RAW_TABLES) / kept
    old_per_result = sum(old_tables.get(t, 0) for t in OLD_RAW_TABLES) / old_kept
    per_hour = new_tables.get("hourly_rollups", 0) / hours
    per_day = new_tables.get("daily_rollups", 0) / day_rows
    fixed = sum(new_tables.values()) - per_result * kept - per_hour * hours - per_day * day_rows

    def after_90_days(result_bytes: float, raw_days: int, hourly: bool) -> float:
        raw = result_bytes * GOAL_MONITORS * PER_DAY * raw_days
        rollups = per_day * GOAL_MONITORS * GOAL_DAYS
        if hourly:
            rollups += per_hour * GOAL_MONITORS * 24 * GOAL_DAYS
        return raw + rollups + fixed

    new_90 = after_90_days(per_result, RETENTION_DAYS, True)
    old_90 = after_90_days(old_per_result, RETENTION_DAYS, False)
    new_all_raw = after_90_days(per_result, GOAL_DAYS, True)
    old_all_raw = after_90_days(old_per_result, GOAL_DAYS, False)
    simulated = (
        f"{monitors:,} monitors x 1/min x {days:g} days through the store"
        f" ({len(minutes) * monitors:,} results, {seconds:.0f} s), pruned hourly to {keep:g}"
        f" days: {kept:,} results kept, file {file_bytes / 1e6:.1f} MB"
    )
    goal = "under" if new_90 < GOAL_BYTES else "OVER"
    return [
        Comparison(
            name="storage: bytes per result",
            unit="bytes",
            uplight=per_result,
            bare=old_per_result,
            lower_is_better=True,
            notes=(
                simulated,
                f"uplight: {per_result:.1f} bytes per raw result (blocks, texts, keys, latest"
                f" details); hourly rollup {per_hour:.0f} bytes/row, daily {per_day:.0f}",
                f"bare: release 0.1.0's layout (m001 rows and indexes), {old_per_result:.1f}"
                " bytes per result, same results, same pruning",
            ),
        ),
        Comparison(
            name="storage: 1,000 monitors x 1/min x 90 days",
            unit="MB",
            uplight=new_90 / 1e6,
            bare=old_90 / 1e6,
            lower_is_better=True,
            notes=(
                f"extrapolated: raw results kept {RETENTION_DAYS} days (the default),"
                f" hourly rollups {GOAL_DAYS} days, daily rollups all {GOAL_DAYS}",
                f"uplight: {new_90 / 1e6:,.0f} MB, {goal} the 1 GB goal;"
                f" bare (release 0.1.0): {old_90 / 1e6:,.0f} MB",
                f"raw results kept all {GOAL_DAYS} days: uplight {new_all_raw / 1e6:,.0f} MB,"
                f" bare {old_all_raw / 1e6:,.0f} MB",
            ),
        ),
    ]
