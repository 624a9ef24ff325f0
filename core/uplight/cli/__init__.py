"""The ``uplight`` command: one module per command group, each with ``register``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__

# Each module has register(subparsers) and sets `func` on the parsers it adds.
COMMAND_MODULES = (
    "core",
    "monitors",
    "tokens",
    "incidents",
    "maintenance",
    "components",
    "notify",
    "db",
    "init",
    "login",
    "status",
    "probe",
    "schema",
    "backup",
)


# `uplight serve` is the long-lived process: it needs only its own command group, and
# the others' imports (API client, schema, probe, backup) would stay in its memory
# for its whole life (about 5 MB).
SERVE_MODULES = ("core",)


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uplight", description="Self-hosted status page and uptime monitor."
    )
    parser.add_argument("--version", action="version", version=f"uplight {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(SERVE_MODULES if given[:1] == ["serve"] else COMMAND_MODULES)
    args = parser.parse_args(given)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so a reader that left is caught below
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `uplight … --json | head`: the reader left; nothing to report. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
