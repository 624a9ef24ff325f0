"""Backing up the live database and restoring a backup (``uplight backup``/``restore``).

A backup is SQLite's online backup, a step of pages at a time, read inside one
read transaction on the source: in WAL mode the server goes on writing while the
copy is made, and the copy is the database as it was when the backup began (one
point in time, never half a transaction). The copy is written beside its
destination under a temporary name, checked (``PRAGMA integrity_check``, and that it
is an uplight database) and only then renamed to the name asked for.

A restore needs the database to itself. A process that has the file open (a
running ``uplight serve``, a ``sqlite3`` shell) holds a lock on it, so the rule is the
one ``uplight db compact`` uses (``locking.py``): take an exclusive lock, and refuse
when it cannot be had. Holding it, the current file is made whole (its WAL
checkpointed into it) and kept as ``<db>.before-restore-<time>``; the verified backup
is renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

# DatabaseInUse: raised by restore, so callers keep importing it from here.
from .locking import DatabaseInUse as DatabaseInUse
from .locking import exclusive

# 1024 pages of 4 KiB: 4 MiB a step, a few milliseconds of the file's read lock.
PAGES_PER_STEP = 1024
Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class BackupError(Exception):
    """A backup or restore that cannot be made; the message says why, for the operator."""


@dataclass(frozen=True)
class Copy:
    path: Path
    bytes: int
    migrations: int  # applied in the copied database


@dataclass(frozen=True)
class Restore:
    path: Path  # the database, now holding the backup
    kept: Path | None  # the file it replaced; None when there was none


def backup(
    source: Path,
    destination: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
) -> Copy:
    """Copy the database at ``source`` (in use or not) to ``destination``, verified.

    Raises ``FileNotFoundError`` when there is no database, ``FileExistsError`` when
    ``destination`` exists and not ``force``, ``BackupError`` when the copy fails its
    checks; nothing is left at ``destination`` then."""
    if not source.is_file():
        raise FileNotFoundError(source)
    if destination.exists() and not force:
        raise FileExistsError(destination)
    if destination.is_dir():
        raise BackupError(f"{destination} is a directory: give the backup file's name")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} is not a directory: create it first")
    with _temporary_beside(destination) as partial:
        _copy(source, partial, progress, pages_per_step)
        migrations = verify(partial)
        size = partial.stat().st_size
        _place(partial, destination, force=force)
    return Copy(destination, size, migrations)


def verify(path: Path, known_migrations: Collection[str] | None = None) -> int:
    """Check that ``path`` is an intact uplight database; return how many migrations it
    has. With ``known_migrations``, a database that has others (made by a newer
    uplight) is refused too. Raises ``BackupError`` naming what is wrong."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    try:
        with contextlib.closing(_connect(path, mode="ro")) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged (integrity_check): " + "; ".join(problems))
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
            ).fetchone()
            names = [r[0] for r in conn.execute("SELECT name FROM migrations")] if has_table else []
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise BackupError(f"{path} is not an SQLite database") from None
        raise BackupError(f"{path} is damaged: {exc}") from None
    if not names:
        raise BackupError(f"{path} is not an uplight database (it has no migrations table)")
    unknown = sorted(set(names) - set(known_migrations)) if known_migrations else []
    if unknown:
        raise BackupError(
            f"{path} was made by a newer uplight (migrations this one does not know:"
            f" {', '.join(unknown)}): restore it with that version"
        )
    return len(names)


def restore(
    backup_path: Path,
    database: Path,
    *,
    known_migrations: Collection[str] | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> Restore:
    """Replace ``database`` with a verified copy of ``backup_path``, keeping the old
    file as ``<database>.before-restore-<UTC time>``.

    Raises ``BackupError`` when the backup is not an intact uplight database and
    ``DatabaseInUse`` when something has ``database`` open (nothing is changed then)."""
    if database.exists():
        with exclusive(database):
            pass  # refused at once, before a long copy, when the server is running
    verify(backup_path, known_migrations)
    database.parent.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    kept = database.with_name(f"{database.name}.before-restore-{stamp}")
    if kept.exists():
        raise BackupError(f"{kept} already exists: wait a second and try again")
    with _temporary_beside(database) as partial:
        # A copy, so the backup file itself stays as it was, whatever happens here.
        _copy(backup_path, partial, progress, PAGES_PER_STEP)
        verify(partial, known_migrations)
        if not database.exists():
            _place(partial, database, force=False)
            return Restore(database, None)
        with exclusive(database) as conn:
            # Made whole and standalone while no one else can open it: the WAL is
            # checkpointed into the file, then removed with the -shm.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        os.rename(database, kept)
        _remove_sidecars(database)  # none should be left; never pair old ones with the new file
        os.rename(partial, database)
        _sync_directory(database.parent)
    return Restore(database, kept)


def _connect(path: Path, *, mode: str = "rwc", timeout: float = 5.0) -> sqlite3.Connection:
    """``mode``: "ro", "rw" (an existing file) or "rwc" (created when missing)."""
    # A percent-encoded file: URI, so a path holding "?", "#" or "%" names this file.
    uri = f"{path.absolute().as_uri()}?mode={mode}"
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)


def _copy(source: Path, target: Path, progress: Progress | None, pages_per_step: int) -> None:
    with (
        # Read-write though it only reads: the last connection to close a WAL database
        # removes its -wal and -shm, which a read-only one cannot, and would leave behind.
        contextlib.closing(_connect(source, mode="rw")) as src,
        contextlib.closing(_connect(target)) as dst,
    ):
        # One read transaction around every step: the steps all see one snapshot, so
        # the server's commits meanwhile neither tear the copy nor restart it.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=pages_per_step, progress=step)
        src.execute("COMMIT")
        # One self-contained file (the copy took the source's WAL mode with its pages).
        dst.execute("PRAGMA journal_mode=DELETE")
    with open(target, "rb+") as file:
        os.fsync(file.fileno())


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A fresh name in ``path``'s folder (so the final rename stays on one file system),
    removed with its journal unless it was renamed away."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    for leftover in (partial, *_sidecars(partial)):
        leftover.unlink(missing_ok=True)  # a crashed earlier run of this same process id
    try:
        yield partial
    finally:
        for leftover in (partial, *_sidecars(partial)):
            leftover.unlink(missing_ok=True)


def _place(partial: Path, destination: Path, *, force: bool) -> None:
    if force:
        os.replace(partial, destination)
    else:
        try:
            # A link fails if the name was taken meanwhile: rename would overwrite it.
            os.link(partial, destination)
        except FileExistsError:
            raise FileExistsError(destination) from None
        except OSError:
            if destination.exists():  # pragma: no cover - a file system without links
                raise FileExistsError(destination) from None
            os.rename(partial, destination)
    _sync_directory(destination.parent)


def _sidecars(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def _remove_sidecars(path: Path) -> None:
    for sidecar in _sidecars(path):
        sidecar.unlink(missing_ok=True)


def _sync_directory(folder: Path) -> None:
    """Make the renames durable: they live in the folder's entry."""
    with contextlib.suppress(OSError):  # some file systems cannot open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
