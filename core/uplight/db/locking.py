"""Having the database file to oneself: the rule `uplight db compact`, `uplight restore`
and `uplight db copy` share.

A process that has the file open (a running ``uplight serve``, a ``sqlite3`` shell)
holds a lock on it. So: take an exclusive lock, and refuse (``DatabaseInUse``) when it
cannot be had at once; once taken, it is kept until the connection closes, so no
server can start writing half-way through.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


class DatabaseInUse(Exception):
    """Another connection (a running server, a sqlite3 shell) has the file open."""


@contextlib.contextmanager
def exclusive(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection (autocommit) holding the existing file ``database`` exclusively, or
    ``DatabaseInUse``. Other errors (not a database, no such file) are the driver's."""
    # A percent-encoded file: URI, so a path holding "?", "#" or "%" names this file;
    # mode=rw, so a file that vanished is an error rather than a new, empty database.
    conn = sqlite3.connect(
        f"{database.absolute().as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None
    )
    try:
        # Exclusive locking: once taken the lock is kept until the connection closes. In
        # WAL mode any other open connection, in any process, keeps it from being taken:
        # that is how a running server shows.
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseInUse(database) from exc
            raise
        yield conn
    finally:
        conn.close()
