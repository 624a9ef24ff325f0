"""The probe's spool: every result waits here, on disk, until the server has it.

A result is written to the spool as it is made and deleted only when the server
answered it (stored, or refused for good), so a probe that cannot reach the server, or
is restarted, loses nothing it can keep: at least once. The server stores a result id
once, so a resend after a lost answer is harmless. The spool is bounded: past
``limit`` results the oldest are dropped, counted (``dropped``) and logged. It also
keeps the last assignment, so a probe restarted while the server is away goes on
checking what it was told to.

One SQLite file, used from the event loop: each write is a single small transaction.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from .models import Assignment, ProbeResult

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100_000


class Spool:
    def __init__(self, path: Path | str, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the spool limit must be at least 1")
        self.path = Path(path)
        self.limit = limit
        # autocommit: each statement is its own transaction, durable when it returns.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS pending (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                body TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )

    def close(self) -> None:
        self._db.close()

    def add(self, result: ProbeResult) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR IGNORE INTO pending (id, body) VALUES (?, ?)",
                (result.id, result.model_dump_json()),
            )
            over = self.pending() - self.limit
            if over > 0:
                self._db.execute(
                    "DELETE FROM pending WHERE seq IN"
                    " (SELECT seq FROM pending ORDER BY seq LIMIT ?)",
                    (over,),
                )
                dropped = self.dropped + over
                self._set("dropped", str(dropped))
        if over > 0:
            log.warning(
                "probe spool full (%d results): dropped the %d oldest; %d dropped so far",
                self.limit,
                over,
                dropped,
            )

    def oldest(self, count: int) -> list[ProbeResult]:
        rows = self._db.execute(
            "SELECT body FROM pending ORDER BY seq LIMIT ?", (count,)
        ).fetchall()
        return [ProbeResult.model_validate_json(body) for (body,) in rows]

    def remove(self, ids: list[str]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])

    def discard(self, ids: list[str]) -> None:
        """Remove results that will never be sent, counted as dropped."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            before = self.pending()
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
            self._set("dropped", str(self.dropped + before - self.pending()))

    def pending(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    @property
    def dropped(self) -> int:
        return int(self._get("dropped") or 0)

    def save_assignment(self, assignment: Assignment) -> None:
        self._set("assignment", assignment.model_dump_json())

    def assignment(self) -> Assignment | None:
        text = self._get("assignment")
        return None if text is None else Assignment.model_validate(json.loads(text))

    def _get(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM facts WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO facts (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
