"""SQL for the retention of check results: raw results older than ``retention_days``,
the texts and latest details only they used, and old hourly rollups (daily rollups
are kept for ever). Monitor by monitor, in short transactions, so checks and API
writes are never held up for long."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiosqlite

from ..db.sql import to_millis
from ..db.store import Store
from .result_blocks import BLOCK_MS, block_start, decode, encode
from .rollups_store import prune_hourly_rollups

PRUNE_CHUNK = 500  # blocks (or hourly rollups) deleted per transaction
# Texts outlive the results that used them by this much, so a result that arrives late
# (checked before the cutoff, stored after a prune pass) still finds its message.
TEXT_GRACE_MS = 24 * BLOCK_MS


async def prune_results(
    store: Store, before: dt.datetime, *, hourly_before: dt.datetime | None = None
) -> int:
    """Delete raw results checked before ``before``, monitor by monitor in small
    transactions; return how many. Daily rollups stay; hourly rollups of hours that
    ended by ``hourly_before`` go too (none when it is None)."""
    cutoff = to_millis(before)
    hourly_cutoff = None if hourly_before is None else to_millis(hourly_before)
    deleted = 0
    for (key,) in await store.fetchall("SELECT key FROM monitor_keys ORDER BY key"):
        while True:
            count, more = await store.write(
                lambda db, key=key: _prune_monitor(db, key, cutoff, hourly_cutoff)
            )
            deleted += count
            if not more:
                break
            await asyncio.sleep(0)  # let other writes and the results flush through
        await asyncio.sleep(0)
    await store.write(lambda db: _prune_leftovers(db, cutoff))
    return deleted


async def _prune_monitor(
    db: aiosqlite.Connection, key: int, cutoff: int, hourly_cutoff: int | None
) -> tuple[int, bool]:
    """One transaction's worth for one monitor: whole blocks that ended by ``cutoff``,
    then the block the cutoff falls in, then hourly rollups. Returns the results
    deleted and whether more is left to do."""
    async with db.execute(
        "DELETE FROM result_blocks WHERE id IN (SELECT id FROM result_blocks"
        " WHERE monitor_key = ? AND starts_at <= ? ORDER BY starts_at LIMIT ?) RETURNING count",
        (key, cutoff - BLOCK_MS, PRUNE_CHUNK),
    ) as cursor:
        counts = [count for (count,) in await cursor.fetchall()]
    if len(counts) == PRUNE_CHUNK:
        return sum(counts), True
    deleted = sum(counts) + await _trim_block(db, key, cutoff)
    if hourly_cutoff is not None:
        if await prune_hourly_rollups(db, key, hourly_cutoff, PRUNE_CHUNK) == PRUNE_CHUNK:
            return deleted, True
    return deleted, False


async def _trim_block(db: aiosqlite.Connection, key: int, cutoff: int) -> int:
    """Drop the results before ``cutoff`` from the block it falls in."""
    start = block_start(cutoff)
    if start == cutoff:
        return 0
    async with db.execute(
        "SELECT id, entries FROM result_blocks WHERE monitor_key = ? AND starts_at = ?",
        (key, start),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return 0
    block_id, blob = row
    entries = decode(start, blob)
    kept = [e for e in entries if e.checked_at >= cutoff]
    if len(kept) == len(entries):
        return 0
    if not kept:
        await db.execute("DELETE FROM result_blocks WHERE id = ?", (block_id,))
    else:
        # Re-encoded oldest first: same-millisecond results keep their order.
        await db.execute(
            "UPDATE result_blocks SET count = ?, entries = ? WHERE id = ?",
            (len(kept), b"".join(encode(e) for e in kept), block_id),
        )
    return len(entries) - len(kept)


async def _prune_leftovers(db: aiosqlite.Connection, cutoff: int) -> None:
    await db.execute("DELETE FROM latest_details WHERE checked_at < ?", (cutoff,))
    await db.execute("DELETE FROM result_texts WHERE last_seen < ?", (cutoff - TEXT_GRACE_MS,))
