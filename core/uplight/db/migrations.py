"""The migration runner: named, ordered schema migrations, recorded in the ``migrations`` table.

The migrations themselves belong to the domains, each beside its own SQL; one list
outside ``db/`` puts them in the schema's order (``uplight.schema``). A migration
is recorded under its function's name, so a shipped one is never renamed or edited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import aiosqlite

log = logging.getLogger(__name__)

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]


async def migrate(db: aiosqlite.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply what is missing, each in its own transaction; return the names applied."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    async with db.execute("SELECT name FROM migrations") as cursor:
        done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for migration in migrations:
        if migration.__name__ in done:
            continue
        log.debug("applying migration %s", migration.__name__)
        await db.execute("BEGIN IMMEDIATE")
        try:
            await migration(db)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ'))",
                (migration.__name__,),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        applied.append(migration.__name__)
    return applied
