"""Store ingest: check results per second through ``Store.add_result`` and the writer,
against a bare ``executemany`` of the same results as plain rows in the same run.

The bare side is a ceiling, not a rival: it inserts pre-built rows into a table of one
row per result (release 0.1.0's ``results``, made by ``m001``) and skips what the store
does on top (the conversion from ``ResultRecord``, packing results into hourly blocks,
storing each message once, the daily and hourly rollups folded in the same
transaction, the hop to aiosqlite's thread). Both commit one transaction per
``max_batch`` results (the writer's batch size), on a fresh file with the same PRAGMAs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite

from uplight.db.migrations import migrate
from uplight.db.writer import Writer
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.migrations_store import m001_results_and_rollups
from uplight.schema import build_store

from .common import Comparison

MONITORS = 50
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
INSERT = (
    "INSERT INTO results (monitor_id, checked_at, status, latency_ms, message, details,"
    " error_reason, in_maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MAX_BATCH: int = inspect.signature(Writer.__init__).parameters["max_batch"].default


def make_records(count: int, seed: int = 7) -> list[ResultRecord]:
    """What 50 monitors checking every 30 s produce: mostly up, a few slow or down."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    statuses = [CheckStatus.UP] * 18 + [CheckStatus.DEGRADED, CheckStatus.DOWN]
    records = []
    for i in range(count):
        status = rng.choice(statuses)
        latency = None if status is CheckStatus.DOWN else round(rng.uniform(0.01, 0.8), 6)
        details = {"status_code": 200, "phases": {"connect": 0.002, "ttfb": 0.015}}
        records.append(
            ResultRecord(
                f"monitor-{i % MONITORS}",
                start + dt.timedelta(seconds=30 * (i // MONITORS), milliseconds=i % MONITORS),
                CheckResult(status, latency, f"200 OK in {latency}s", details),
            )
        )
    return records


def as_rows(records: list[ResultRecord]) -> list[tuple[Any, ...]]:
    return [
        (
            r.monitor_id,
            int(r.checked_at.timestamp() * 1000),
            r.result.status.value,
            None if r.result.latency is None else r.result.latency * 1000,
            r.result.message,
            json.dumps(r.result.details, separators=(",", ":")),
            r.error_reason,
            int(r.in_maintenance),
        )
        for r in records
    ]


async def store_ingest(path: Path, records: list[ResultRecord]) -> tuple[float, int]:
    """Seconds from the first ``add_result`` until every result is committed, and the
    number of transactions the writer used."""
    async with build_store(path) as store:
        started = time.perf_counter()
        # Arrive as a scheduler hands them on: in bursts, yielding to the event loop.
        for offset in range(0, len(records), MAX_BATCH):
            for record in records[offset : offset + MAX_BATCH]:
                store.add_result(record)
            await asyncio.sleep(0)
        await store.flush()
        elapsed = time.perf_counter() - started
        facts = await store.facts()
        transactions = store.writer.stats.flushes
    assert facts.flushed_results == len(records), facts
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT sum(count) FROM result_blocks").fetchone()[0] == len(records)
        total = conn.execute("SELECT sum(checks_total) FROM daily_rollups").fetchone()[0]
        assert total == len(records), total
    return elapsed, transactions


def prepare_schema(path: Path) -> None:
    """A row per result, with its indexes: the table ``m001`` made."""

    async def make() -> None:
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            await migrate(conn, [m001_results_and_rollups])

    asyncio.run(make())


def bare_ingest(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to insert pre-built rows with plain sqlite3, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        started = time.perf_counter()
        for offset in range(0, len(rows), MAX_BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, rows[offset : offset + MAX_BATCH])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == len(rows)
    finally:
        conn.close()
    return elapsed


def run(quick: bool = False) -> Comparison:
    count = 5_000 if quick else 100_000
    repeats = 2 if quick else 3
    records = make_records(count)
    rows = as_rows(records)
    store_times: list[float] = []
    transactions: list[int] = []
    bare_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        for attempt in range(repeats):
            # Alternate, each on a fresh file, so drift on the machine hits both sides.
            store_path = Path(tmp) / f"store-{attempt}.db"
            elapsed, flushes = asyncio.run(store_ingest(store_path, records))
            store_times.append(elapsed)
            transactions.append(flushes)
            bare_path = Path(tmp) / f"bare-{attempt}.db"
            prepare_schema(bare_path)
            bare_times.append(bare_ingest(bare_path, rows))
    store_best, bare_best = min(store_times), min(bare_times)
    return Comparison(
        name="store ingest",
        unit="results/s",
        uplight=count / store_best,
        bare=count / bare_best,
        notes=(
            f"{count:,} results across {MONITORS} monitors, best of {repeats};"
            f" batch = writer max_batch = {MAX_BATCH}",
            "uplight: Store.add_result + writer flushes (packed results + daily and hourly"
            " rollups, aiosqlite)",
            "bare: sqlite3 executemany of pre-built rows into m001's one-row-per-result"
            " table, same PRAGMAs, BEGIN/COMMIT per batch",
            "uplight runs (s): " + ", ".join(f"{t:.3f}" for t in store_times),
            "uplight transactions per run: " + ", ".join(map(str, transactions)),
            "bare runs (s):    " + ", ".join(f"{t:.3f}" for t in bare_times),
        ),
    )
