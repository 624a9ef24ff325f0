"""Read the check results in a database file with plain ``sqlite3`` (or a PostgreSQL
database, given its URL, with plain psycopg), independently of a running Store: for
tests that look at what reached the disk."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from uplight.db import postgres
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.result_blocks import decode
from uplight.monitoring.store import StoredResult, stored_result


class _Postgres:
    """A plain psycopg connection taking the stores' SQL (translated as the Store does)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.adapters.register_loader("numeric", postgres._numeric_loader(psycopg))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(postgres.translate(sql) or "", params)

    def close(self) -> None:
        self._conn.close()


@contextlib.contextmanager
def connect(location: Path | str) -> Iterator[Any]:
    """A connection to the database at a path or a ``postgresql://`` URL."""
    if isinstance(location, str) and postgres.is_postgres_url(location):
        conn: Any = _Postgres(location)
    else:
        conn = sqlite3.connect(location)
    try:
        yield conn
        if isinstance(conn, sqlite3.Connection):
            conn.commit()  # a test may write through raw()
    finally:
        conn.close()


def stored_results(path: Path | str) -> list[StoredResult]:
    """Every stored result, by monitor id, oldest first (ties: the order they were stored)."""
    with connect(path) as conn:
        texts = dict(conn.execute("SELECT id, text FROM result_texts"))
        newest = {
            key: (at, details)
            for key, at, details in conn.execute(
                "SELECT monitor_key, checked_at, details FROM latest_details"
            )
        }
        rows = conn.execute(
            "SELECT k.monitor_id, k.key, b.starts_at, b.entries FROM result_blocks AS b"
            " JOIN monitor_keys AS k ON k.key = b.monitor_key ORDER BY k.monitor_id, b.starts_at"
        ).fetchall()
    results: list[StoredResult] = []
    for i, (monitor_id, key, starts_at, blob) in enumerate(rows):
        entries = decode(starts_at, blob)
        last_block = i + 1 == len(rows) or rows[i + 1][0] != monitor_id
        for j, entry in enumerate(entries):
            at, details = newest.get(key, (None, None))
            is_newest = last_block and j + 1 == len(entries) and at == entry.checked_at
            results.append(stored_result(monitor_id, entry, texts, details if is_newest else None))
    return results


def count_results(path: Path | str) -> int:
    with connect(path) as conn:
        return conn.execute("SELECT coalesce(sum(count), 0) FROM result_blocks").fetchone()[0]


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
    """A check result as the scheduler hands it to the store."""
    result = CheckResult(status, latency, message, details if details is not None else {})
    return ResultRecord(monitor_id, checked_at, result, error_reason, in_maintenance)


def raw(path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read with a plain sqlite3 (or psycopg) connection, independent of the store."""
    with connect(path) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
