"""`uplight db copy --from PATH --to URL`: a SQLite database moved into PostgreSQL.

The source must be an uplight database at this uplight's schema: one written by a
newer uplight is refused, one written by an older one is refused unless the caller
asks for it to be migrated in place first (``migrate_source``; what `uplight serve`
would do to it anyway). The source is held exclusively while it is read (the lock
`uplight db compact` takes, ``locking.py``), so a running server is refused rather
than copied half-way through its writes.

The target is migrated by the same migrations (``build``), then every table is copied
row for row, parents before children (foreign keys), in batches, in one PostgreSQL
transaction; each table's rows are counted on both sides before it commits, and the
identity sequences are moved past the copied ids (past SQLite's AUTOINCREMENT high
mark too, so a purged maintenance window's id is not given out again). A copy is whole or
absent. The target must hold no data yet unless ``force``: then what it holds is
replaced, in the same transaction.

The source is read with the standard library's blocking ``sqlite3`` (the exclusive
lock lives on one connection in one thread); ``copy_database`` is a synchronous
entry point that runs only the PostgreSQL side on an event loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .locking import DatabaseInUse, exclusive
from .postgres import PgConnection, is_postgres_url, scrub_url
from .store import Store

BATCH = 1000
# Rows the migrations themselves write (m005's component-id secret, from which the
# public component ids are derived): the target's are replaced by the source's.
REPLACED = ("meta",)
# Each end records the migrations applied to it: never copied.
NOT_COPIED = ("migrations",)

Build = Callable[[Path | str], Store]  # ``uplight.schema.build_store``
Progress = Callable[[str, int, int], None]  # (table being copied, rows copied, rows in all)


class CopyError(Exception):
    """A copy refused or undone (nothing was written to the target); the message says
    why, for the operator, and never holds the URL's password."""


class SourceOutdated(CopyError):
    """The source lacks migrations this uplight has (``missing``)."""

    def __init__(self, message: str, missing: Sequence[str]) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


class TargetNotEmpty(CopyError):
    """The target already holds rows (in ``tables``) and ``force`` was not given."""

    def __init__(self, message: str, tables: Sequence[str]) -> None:
        super().__init__(message)
        self.tables = tuple(tables)


@dataclass(frozen=True)
class TableCopy:
    name: str
    source_rows: int  # counted in the source
    target_rows: int  # counted in the target after the copy, before the commit


@dataclass(frozen=True)
class CopyReport:
    tables: tuple[TableCopy, ...]  # in the order copied (parents first)
    migrated_source: tuple[str, ...]  # migrations applied to the source first
    replaced: tuple[str, ...]  # tables of the target that held data and were emptied

    @property
    def rows(self) -> int:
        return sum(table.target_rows for table in self.tables)


@dataclass(frozen=True)
class _Source:
    path: Path
    conn: sqlite3.Connection  # holding the file exclusively
    tables: tuple[str, ...]  # parents before children
    columns: dict[str, tuple[str, ...]]
    counts: dict[str, int]
    high_marks: dict[str, int]  # AUTOINCREMENT's sqlite_sequence: the highest id ever given


def copy_database(
    source: Path,
    target_url: str,
    *,
    build: Build,
    known_migrations: Collection[str],
    force: bool = False,
    migrate_source: bool = False,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the uplight SQLite database ``source`` into the PostgreSQL database at
    ``target_url``. Raises ``CopyError`` (``SourceOutdated``, ``TargetNotEmpty``)
    when it cannot, and then nothing is written to the target."""
    where = scrub_url(target_url)
    if not is_postgres_url(target_url):
        raise CopyError(f"{where} is not a PostgreSQL URL (postgresql://…)")
    if importlib.util.find_spec("psycopg") is None:
        raise CopyError("copying to PostgreSQL needs psycopg: pip install 'uplight[postgres]'")
    known = set(known_migrations)
    migrated: tuple[str, ...] = ()
    missing = check_source(source, known)
    if missing:
        if not migrate_source:
            raise SourceOutdated(
                f"{source} was last opened by an older uplight: its schema lacks"
                f" {', '.join(missing)}",
                missing,
            )
        with _held(source):
            pass  # refused at once when a server has it open, before migrating
        asyncio.run(_migrate(build, source))
        migrated = tuple(missing)
    try:
        with _opened_source(source) as src:
            counts, replaced = asyncio.run(
                _copy_into(src, target_url, build, known, force=force, progress=progress)
            )
    except sqlite3.Error as exc:
        # The target's errors are raised as sqlite3's (postgres.py); either side's
        # message may quote the URL.
        raise CopyError(_without_password(str(exc), target_url)) from None
    tables = tuple(TableCopy(name, src.counts[name], counts[name]) for name in src.tables)
    return CopyReport(tables, migrated, replaced)


def check_source(path: Path, known: Collection[str]) -> list[str]:
    """The known migrations ``path`` lacks (none: it is at this schema); ``CopyError``
    when it is missing, not an SQLite database, not uplight's, or newer."""
    if not path.exists():
        raise CopyError(f"no database at {path}")
    if not path.is_file():
        raise CopyError(f"{path} is not a file")
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
        ) as conn:
            applied = _applied_migrations(conn)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise CopyError(f"{path} is not an SQLite database") from None
        raise CopyError(f"cannot read {path}: {exc}") from None
    if applied is None:
        raise CopyError(f"{path} is not an uplight database (it has no migrations table)")
    newer = sorted(set(applied) - set(known))
    if newer:
        raise CopyError(
            f"{path} was written by a newer uplight (migrations this one does not know:"
            f" {', '.join(newer)}): copy it with that version"
        )
    return sorted(set(known) - set(applied))


def _applied_migrations(conn: sqlite3.Connection) -> list[str] | None:
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    return [row[0] for row in conn.execute("SELECT name FROM migrations")] if has_table else None


async def _migrate(build: Build, source: Path) -> None:
    async with build(source):
        pass  # opening a Store applies the missing migrations


@contextlib.contextmanager
def _held(path: Path) -> Iterator[sqlite3.Connection]:
    with contextlib.ExitStack() as stack:
        try:
            conn = stack.enter_context(exclusive(path))
        except DatabaseInUse:
            raise CopyError(
                f"{path} is in use: stop `uplight serve` (and anything else that has the"
                " file open) first; a copy needs the database to itself"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise CopyError(f"cannot open {path}: {exc}") from None
        yield conn


@contextlib.contextmanager
def _opened_source(path: Path) -> Iterator[_Source]:
    with _held(path) as conn:
        tables = _tables_in_order(conn)
        columns = {
            name: tuple(row[1] for row in conn.execute(f"PRAGMA table_info({_q(name)})"))
            for name in tables
        }
        counts = {
            name: int(conn.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()[0])
            for name in tables
        }
        high_marks: dict[str, int] = {}
        if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).fetchone():
            high_marks = {
                str(name): int(seq)
                for name, seq in conn.execute("SELECT name, seq FROM sqlite_sequence")
            }
        yield _Source(path, conn, tables, columns, counts, high_marks)


def _tables_in_order(conn: sqlite3.Connection) -> tuple[str, ...]:
    """Every table to copy, each after the tables its foreign keys name."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        if row[0] not in NOT_COPIED
    ]
    parents = {
        name: {row[2] for row in conn.execute(f"PRAGMA foreign_key_list({_q(name)})")} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise CopyError("the source's foreign keys form a cycle: not an uplight database?")
        ordered.extend(ready)
    return tuple(ordered)


async def _copy_into(
    src: _Source,
    target_url: str,
    build: Build,
    known: set[str],
    *,
    force: bool,
    progress: Progress | None,
) -> tuple[dict[str, int], tuple[str, ...]]:
    where = scrub_url(target_url)
    async with build(target_url) as target:  # migrated to this uplight's schema
        rows = await target.fetchall("SELECT name FROM migrations")
        newer = sorted({row[0] for row in rows} - known)
        if newer:
            raise CopyError(
                f"{where} was migrated by a newer uplight (migrations this one does not"
                f" know: {', '.join(newer)})"
            )

        async def copy(db: Any) -> tuple[dict[str, int], tuple[str, ...]]:
            return await _copy(src, db, where, force=force, progress=progress)

        result: tuple[dict[str, int], tuple[str, ...]] = await target.write(copy)
        return result


async def _copy(
    src: _Source, db: PgConnection, where: str, *, force: bool, progress: Progress | None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Inside the target's write transaction: check, empty, copy, count, move ids."""
    async with db.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
    ) as cursor:
        target_columns: dict[str, set[str]] = {}
        for table, column in await cursor.fetchall():
            target_columns.setdefault(table, set()).add(column)
    for table in src.tables:
        if table not in target_columns:
            raise CopyError(f"{where} has no table {table}: its schema is not this uplight's")
        unknown = [c for c in src.columns[table] if c not in target_columns[table]]
        if unknown:
            raise CopyError(
                f"{where}: table {table} has no column {', '.join(unknown)}:"
                " its schema is not this uplight's"
            )
    holding = []
    for table in src.tables:
        if table in REPLACED:
            continue
        async with db.execute(f"SELECT 1 FROM {_q(table)} LIMIT 1") as cursor:
            if await cursor.fetchone() is not None:
                holding.append(table)
    if holding and not force:
        raise TargetNotEmpty(
            f"{where} already holds data (in {', '.join(holding)}); it is left as it was",
            holding,
        )
    # One statement, so foreign keys between the emptied tables are no obstacle; inside
    # the transaction, so a failed copy leaves what was there.
    await db.execute("TRUNCATE " + ", ".join(_q(t) for t in src.tables))
    total = sum(src.counts.values())
    done = 0
    stored: dict[str, int] = {}
    for table in src.tables:
        columns = src.columns[table]
        names = ", ".join(_q(c) for c in columns)
        insert = f"INSERT INTO {_q(table)} ({names}) VALUES ({', '.join('?' * len(columns))})"
        rows = src.conn.execute(f"SELECT {names} FROM {_q(table)}")
        copied = 0
        if progress is not None:
            progress(table, done, total)
        while batch := rows.fetchmany(BATCH):
            await db.executemany(insert, batch)
            copied += len(batch)
            done += len(batch)
            if progress is not None:
                progress(table, done, total)
        async with db.execute(f"SELECT count(*) FROM {_q(table)}") as cursor:
            row = await cursor.fetchone()
        stored[table] = int(row[0]) if row else 0
        if not copied == stored[table] == src.counts[table]:
            raise CopyError(
                f"table {table}: {src.counts[table]} rows in the source, {copied} read,"
                f" {stored[table]} stored; nothing was copied"
            )
    await _move_identities(db, src.high_marks)
    return stored, tuple(holding)


async def _move_identities(db: PgConnection, high_marks: dict[str, int]) -> None:
    """Each identity column's next value past the copied ids, and past the highest id
    SQLite ever gave out there (AUTOINCREMENT never reuses a deleted row's id)."""
    async with db.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ) as cursor:
        identities = await cursor.fetchall()
    for table, column in identities:
        async with db.execute(f"SELECT max({_q(column)}) FROM {_q(table)}") as cursor:
            row = await cursor.fetchone()
        highest = max(int(row[0]) if row and row[0] is not None else 0, high_marks.get(table, 0))
        await db.execute(
            "SELECT setval(pg_get_serial_sequence(?, ?), ?, false)", (table, column, highest + 1)
        )


def _q(name: str) -> str:
    """A quoted identifier (both dialects): the names come from the source's catalog."""
    return '"' + name.replace('"', '""') + '"'


def _without_password(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text
