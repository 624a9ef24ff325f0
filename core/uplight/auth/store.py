"""API tokens: only a hash is stored; the token itself is shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import aiosqlite

from ..db.sql import run_script

PREFIX = "upl_"


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


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: str


class TokenExists(Exception):
    pass


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a plain hash is enough, no slow KDF needed.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(store, name: str) -> str:
    """Store a new token's hash under ``name``; return the token (shown once)."""
    token = PREFIX + secrets.token_urlsafe(32)

    async def insert(db: aiosqlite.Connection) -> None:
        try:
            await db.execute(
                "INSERT INTO api_tokens (name, token_hash, created_at)"
                " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ'))",
                (name, hash_token(token)),
            )
        except aiosqlite.IntegrityError:
            raise TokenExists(name) from None

    await store.write(insert)
    return token


async def list_tokens(store) -> list[TokenInfo]:
    rows = await store.fetchall("SELECT name, created_at FROM api_tokens ORDER BY name")
    return [TokenInfo(*row) for row in rows]


async def revoke_token(store, name: str) -> bool:
    async def delete(db: aiosqlite.Connection) -> bool:
        cursor = await db.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
        return cursor.rowcount > 0

    return await store.write(delete)


async def verify_token(store, token: str) -> str | None:
    """The token's name, or None. Compares every stored hash in constant time."""
    candidate = hash_token(token)
    found = None
    for name, stored in await store.fetchall("SELECT name, token_hash FROM api_tokens"):
        if hmac.compare_digest(candidate, stored):
            found = name
    return found
