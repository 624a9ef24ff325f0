"""Compacting the database file: a full ``VACUUM``, which also switches a file made
before incremental auto-vacuum to it.

A running server gives free pages back a little at a time after each prune pass
(``Store.reclaim_space``), but only in a file whose auto-vacuum mode is INCREMENTAL,
and no pass moves rows together again. ``VACUUM`` does both: it rewrites the whole file,
so it needs it to itself (the server stopped), time (about a minute per GB) and free
disk space about twice the compacted size (a temporary copy, then the WAL).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# DatabaseInUse: raised here, so callers keep importing it from here.
from .locking import DatabaseInUse as DatabaseInUse
from .locking import exclusive

AUTO_VACUUM_MODES = {0: "none", 1: "full", 2: "incremental"}


@dataclass(frozen=True)
class Compaction:
    path: Path
    bytes_before: int  # the file and its WAL
    bytes_after: int
    auto_vacuum_before: str


def file_bytes(path: Path) -> int:
    """The database file and its WAL, as they take space on disk."""
    total = 0
    for name in (path, path.with_name(path.name + "-wal")):
        try:
            total += os.stat(name).st_size
        except OSError:
            pass
    return total


def compact(path: Path) -> Compaction:
    """Rebuild the database at ``path`` (``VACUUM``) with incremental auto-vacuum on.

    Raises ``FileNotFoundError`` when there is no file, ``DatabaseInUse`` when another
    connection has it open (nothing is changed then), ``sqlite3.DatabaseError`` when it
    is not a database or the disk fills (``VACUUM`` is a transaction: the file is left
    as it was)."""
    if not path.is_file():
        raise FileNotFoundError(path)
    before = file_bytes(path)
    # Held exclusively (``locking.py``), so no server can start writing half-way.
    with exclusive(path) as conn:
        mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect through the VACUUM
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Compaction(path, before, file_bytes(path), AUTO_VACUUM_MODES.get(mode, str(mode)))
