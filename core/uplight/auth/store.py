"""API tokens: the ``api_tokens`` table (names and hashes) and its queries."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import run_script
from ..db.store import Store


async def m002_tokens(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,      -- sha256 hex of the token
            created_at TEXT NOT NULL
        );
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m002_tokens,)


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: str
    location: str | None = None  # a probe token's location (column added by m012_probes)


async def insert_token(
    store: Store, name: str, token_hash: str, location: str | None = None
) -> bool:
    """False when the name is taken (nothing is written)."""

    async def insert(db: aiosqlite.Connection) -> bool:
        try:
            await db.execute(
                "INSERT INTO api_tokens (name, token_hash, created_at, location)"
                " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ'), ?)",
                (name, token_hash, location),
            )
        except aiosqlite.IntegrityError:
            return False
        return True

    return await store.write(insert)


async def list_tokens(store: Store) -> list[TokenInfo]:
    rows = await store.fetchall("SELECT name, created_at, location FROM api_tokens ORDER BY name")
    return [TokenInfo(*row) for row in rows]


async def delete_token(store: Store, name: str) -> bool:
    async def delete(db: aiosqlite.Connection) -> bool:
        cursor = await db.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
        return cursor.rowcount > 0

    return await store.write(delete)


async def token_hashes(store: Store) -> list[tuple[str, str, str | None]]:
    """Each token's name, hash and location (None: an admin token)."""
    rows = await store.fetchall("SELECT name, token_hash, location FROM api_tokens")
    return [tuple(row) for row in rows]
