"""`uplight db compact`: rebuild the database file so it gives its free space back.

It works on the file named by the config's ``[storage] path``, directly, not through a
running server: compacting needs the file to itself, so it refuses while the server
(or anything else) has it open.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from ..db.compaction import DatabaseInUse, compact
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


def _size(count: int) -> str:
    value, unit = float(count), "bytes"
    for larger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
