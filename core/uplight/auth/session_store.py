"""Console sessions: the ``console_sessions`` table and its queries.

A row is keyed by the SHA-256 of the session's secret (the cookie holds the
secret, the database never does) and names the API token that opened it, with
that token's hash: a session is alive only while the same token still exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import run_script
from ..db.store import Store


async def m011_console_sessions(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE console_sessions (
            session_hash TEXT PRIMARY KEY,        -- sha256 hex of the cookie's secret
            token_name TEXT NOT NULL,
            token_hash TEXT NOT NULL,             -- the token's, when the session began
            created_at REAL NOT NULL,             -- unix seconds
            last_seen REAL NOT NULL
        );
        CREATE INDEX console_sessions_token ON console_sessions (token_name);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m011_console_sessions,)


@dataclass(frozen=True)
class SessionRow:
    token_name: str
    created_at: float
    last_seen: float
    token_alive: bool  # the token that opened it exists, with the same hash


async def insert_session(
    store: Store, session_hash: str, token_name: str, token_hash: str, at: float
) -> None:
    async def insert(db: aiosqlite.Connection) -> None:
        await db.execute(
            "INSERT INTO console_sessions"
            " (session_hash, token_name, token_hash, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_hash, token_name, token_hash, at, at),
        )

    await store.write(insert)


async def find_session(store: Store, session_hash: str) -> SessionRow | None:
    rows = await store.fetchall(
        "SELECT s.token_name, s.created_at, s.last_seen, EXISTS ("
        "  SELECT 1 FROM api_tokens t"
        "  WHERE t.name = s.token_name AND t.token_hash = s.token_hash"
        ") FROM console_sessions s WHERE s.session_hash = ?",
        (session_hash,),
    )
    if not rows:
        return None
    name, created, seen, alive = rows[0]
    return SessionRow(name, created, seen, bool(alive))


async def touch_session(store: Store, session_hash: str, at: float) -> None:
    async def touch(db: aiosqlite.Connection) -> None:
        await db.execute(
            "UPDATE console_sessions SET last_seen = ? WHERE session_hash = ?",
            (at, session_hash),
        )

    await store.write(touch)


async def delete_session(store: Store, session_hash: str) -> None:
    async def delete(db: aiosqlite.Connection) -> None:
        await db.execute("DELETE FROM console_sessions WHERE session_hash = ?", (session_hash,))

    await store.write(delete)


async def delete_sessions_before(store: Store, seen_before: float, created_before: float) -> int:
    """Sessions idle since ``seen_before`` or begun before ``created_before``."""

    async def delete(db: aiosqlite.Connection) -> int:
        cursor = await db.execute(
            "DELETE FROM console_sessions WHERE last_seen < ? OR created_at < ?",
            (seen_before, created_before),
        )
        return cursor.rowcount

    return await store.write(delete)
