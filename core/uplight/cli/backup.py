"""`uplight backup PATH` and `uplight restore PATH` (docs/deploy.md, "Backups").

Both work on the file named by the config's ``[storage] path``, directly. A backup is
made while the server runs; a restore refuses while anything has the database open.
Exit status 0 when done, 1 with a message on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tomllib
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from ..config import Config, ConfigError, ConfigIssue, StorageConfig, read_config_text
from ..config.cross_checks import issues_from
from ..db.backup import BackupError, DatabaseInUse, backup, restore
from ..schema import MIGRATIONS
from .common import add_config_option


def register(sub: argparse._SubParsersAction) -> None:
    backup_parser = sub.add_parser(
        "backup",
        help="copy the live database to PATH (safe while the server runs)",
        description=(
            "Copy the database to PATH while the server runs (SQLite's online backup: the"
            " copy is the database at one point in time), check the copy (integrity_check)"
            " and print its size. The copy is written beside PATH under a temporary name"
            " and renamed when verified. An existing PATH is left alone unless --force."
        ),
    )
    backup_parser.add_argument("path", type=Path, metavar="PATH", help="the backup file to write")
    add_config_option(backup_parser)
    backup_parser.add_argument(
        "--quiet", "-q", action="store_true", help="print nothing but errors (for cron)"
    )
    backup_parser.add_argument("--force", action="store_true", help="overwrite an existing PATH")
    backup_parser.set_defaults(func=cmd_backup)

    restore_parser = sub.add_parser(
        "restore",
        help="replace the database with a backup (stop the server first)",
        description=(
            "Replace the database with the backup at PATH: refused while the server (or"
            " anything else) has the database open. The backup is checked first"
            " (integrity_check, an uplight database this version can open); the current"
            " file is kept beside it as <db>.before-restore-<UTC time>."
        ),
    )
    restore_parser.add_argument("path", type=Path, metavar="PATH", help="the backup file")
    add_config_option(restore_parser)
    restore_parser.set_defaults(func=cmd_restore)


def database_of(config_path: Path) -> Path | None:
    """The config's ``[storage] path``, read alone: a backup run from cron must not fail
    over a secret that only the service can read ({ file = "/run/credentials/…" }), or
    wait for every plugin to load. None, with the error printed, when it cannot be read."""
    try:
        try:
            raw = tomllib.loads(read_config_text(config_path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([ConfigIssue("", f"not valid TOML: {exc}")], config_path) from None
        try:
            storage = StorageConfig.model_validate(raw.get("storage", {}))
        except ValidationError as exc:
            raise ConfigError(issues_from(exc, ("storage",), StorageConfig), config_path) from None
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    return Config(storage=storage, source=config_path.resolve()).database_path


def cmd_backup(args: argparse.Namespace) -> int:
    database = database_of(args.config)
    if database is None:
        return 1
    bar = None if args.quiet else ProgressBar.on(sys.stderr, "backing up")
    try:
        done = backup(database, args.path, force=args.force, progress=bar)
    except FileNotFoundError:
        return _error(f"no database at {database} (the config's [storage] path)")
    except FileExistsError:
        return _error(f"{args.path} exists: give another name, or --force to overwrite it")
    except (BackupError, OSError, sqlite3.Error) as exc:
        return _error(f"backup failed: {exc}; {args.path} was not written")
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(f"backed up {database} to {done.path}: {_size(done.bytes)}, integrity ok")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    database = database_of(args.config)
    if database is None:
        return 1
    known = [migration.__name__ for migration in MIGRATIONS]
    bar = ProgressBar.on(sys.stderr, "restoring")
    try:
        done = restore(args.path, database, known_migrations=known, progress=bar)
    except DatabaseInUse:
        return _error(
            f"{database} is in use: stop `uplight serve` (and anything else that has the"
            " file open) first; nothing was changed"
        )
    except FileNotFoundError as exc:
        return _error(f"{exc.filename or args.path} not found; nothing was changed")
    except BackupError as exc:
        return _error(f"refused: {exc}; nothing was changed")
    except (OSError, sqlite3.Error) as exc:
        return _error(f"restore failed: {exc}")
    finally:
        if bar is not None:
            bar.close()
    print(f"restored {args.path} into {done.path}")
    if done.kept is not None:
        print(f"the database it replaced is kept as {done.kept}")
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / 1_000_000:.1f} MB)"


class ProgressBar:
    """A bar redrawn in place on a terminal; ``on`` gives None elsewhere (logs, cron)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label
        self.shown = -1

    @classmethod
    def on(cls, stream: TextIO, label: str) -> ProgressBar | None:
        return cls(stream, label) if stream.isatty() else None

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent == self.shown:
            return  # a redraw per percent, not per step
        self.shown = percent
        filled = self.WIDTH * percent // 100
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}%  {done:,}/{total:,} pages")
        self.stream.flush()

    def close(self) -> None:
        if self.shown >= 0:
            self.stream.write("\n")
            self.stream.flush()
