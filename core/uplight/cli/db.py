"""`uplight db compact`: rebuild the database file so it gives its free space back;
`uplight db copy`: move a SQLite database into PostgreSQL (``db/copy.py``).

Both work on the file directly, not through a running server: they need it to
themselves, so they refuse while the server (or anything else) has it open.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from ..db.compaction import DatabaseInUse, compact
from ..db.copy import CopyError, CopyReport, SourceOutdated, TargetNotEmpty, copy_database
from ..db.postgres import is_postgres_url, scrub_url
from .common import add_config_option, load


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the database file")
    actions = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    compact_parser = actions.add_parser(
        "compact",
        help="rebuild the database file to give free space back (stop the server first)",
        description=(
            "Rebuild the database file (SQLite VACUUM) so it takes only the space its data"
            " needs, and switch it to incremental auto-vacuum, so the space of pruned"
            " results goes back to the file system from then on. The server must be"
            " stopped. Needs free disk space about twice the compacted size."
        ),
    )
    add_config_option(compact_parser)
    compact_parser.set_defaults(func=cmd_compact)
    copy_parser = actions.add_parser(
        "copy",
        help="copy a SQLite database into an empty PostgreSQL database (stop the server first)",
        description=(
            "Copy every table of the uplight SQLite database PATH into the PostgreSQL"
            " database at URL, after migrating URL to this uplight's schema; in one"
            " transaction (whole or not at all), row counts checked per table, id"
            " sequences moved past the copied ids. Then set [storage] url = URL and"
            ' start uplight serve (docs/deploy.md, "Moving an existing database").'
            " Put the password in PGPASSWORD or ~/.pgpass rather than in URL."
        ),
    )
    copy_parser.add_argument(
        "--from", dest="source", type=Path, required=True, metavar="PATH", help="the SQLite file"
    )
    copy_parser.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/db"
    )
    copy_parser.add_argument(
        "--force",
        action="store_true",
        help="replace what URL already holds (deleted, in the copy's transaction)",
    )
    copy_parser.add_argument(
        "--migrate-source",
        action="store_true",
        help=(
            "a PATH last opened by an older uplight is migrated in place first, as"
            " uplight serve would (otherwise refused)"
        ),
    )
    copy_parser.add_argument(
        "--quiet", action="store_true", help="print nothing but errors (no progress, no counts)"
    )
    copy_parser.set_defaults(func=cmd_copy)


def cmd_compact(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    if loaded is None:
        return 1
    config, _ = loaded
    path = config.database_path
    try:
        done = compact(path)
    except FileNotFoundError:
        print(f"error: no database at {path}", file=sys.stderr)
        return 1
    except DatabaseInUse:
        print(
            f"error: {path} is in use: stop `uplight serve` (and anything else that has the"
            " file open) first; compacting needs the database to itself",
            file=sys.stderr,
        )
        return 1
    except sqlite3.DatabaseError as exc:
        print(f"error: could not compact {path}: {exc}; it is left as it was", file=sys.stderr)
        return 1
    print(
        f"compacted {path}: {_size(done.bytes_before)} -> {_size(done.bytes_after)}"
        f" ({done.bytes_before:,} -> {done.bytes_after:,} bytes)"
    )
    if done.auto_vacuum_before != "incremental":
        print("from now on, space freed by pruning old results goes back to the file system")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    # Imported here: the schema imports every domain, which `db compact` does not need.
    from ..schema import MIGRATIONS, build_store

    source: Path = args.source
    if not is_postgres_url(args.target):
        print(
            f"error: --to {scrub_url(args.target)}: give a PostgreSQL URL,"
            " postgresql://user@host:5432/database",
            file=sys.stderr,
        )
        return 2
    shown = scrub_url(args.target)
    line = None if args.quiet else ProgressLine.on(sys.stderr)
    try:
        report = copy_database(
            source,
            args.target,
            build=build_store,
            known_migrations=[migration.__name__ for migration in MIGRATIONS],
            force=args.force,
            migrate_source=args.migrate_source,
            progress=line,
        )
    except SourceOutdated as exc:
        return _copy_error(
            f"{exc}. Run again with --migrate-source to migrate it in place first (as"
            " `uplight serve` of this version would; `uplight backup` it first to keep"
            " the old file)"
        )
    except TargetNotEmpty as exc:
        return _copy_error(
            f"{exc}. Copy into an empty database, or run again with --force to delete"
            f" what it holds and replace it with {source}'s data"
        )
    except CopyError as exc:
        return _copy_error(str(exc))
    except KeyboardInterrupt:
        return _copy_error("interrupted: nothing was copied")
    finally:
        if line is not None:
            line.close()
    if not args.quiet:
        _print_report(report, source, shown)
    return 0


def _copy_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _print_report(report: CopyReport, source: Path, shown: str) -> None:
    if report.migrated_source:
        print(f"migrated {source} first: {', '.join(report.migrated_source)}")
    if report.replaced:
        print(f"replaced what {shown} held (in {', '.join(report.replaced)})")
    width = max((len(table.name) for table in report.tables), default=0)
    for table in report.tables:
        print(f"  {table.name:<{width}}  {table.target_rows:>12,}")
    print(
        f"copied {source} to {shown}: {report.rows:,} rows in {len(report.tables)} tables,"
        " the same count in each table on both sides"
    )
    # Not the URL itself: the shown one has its password starred out.
    print("next: set [storage] url to that URL (and remove path), then start uplight serve")


class ProgressLine:
    """One line redrawn in place on a terminal; ``on`` gives None elsewhere (logs, cron)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = ("", -1)

    @classmethod
    def on(cls, stream: TextIO) -> ProgressLine | None:
        return cls(stream) if stream.isatty() else None

    def __call__(self, table: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if (table, percent) == self.shown:
            return  # a redraw per table and percent, not per batch
        self.shown = (table, percent)
        # Padded, so a shorter table name overwrites a longer one's tail.
        text = f"copying {table}: {done:,}/{total:,} rows ({percent}%)"
        self.stream.write(f"\r{text:<72}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown[1] >= 0:
            self.stream.write("\n")
            self.stream.flush()


def _size(count: int) -> str:
    value, unit = float(count), "bytes"
    for larger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
