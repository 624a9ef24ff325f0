"""The ``uplight`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import Config, ConfigError, load_config
from .plugins import PluginError, PluginRegistry, load_plugins

DEFAULT_CONFIG = "config.toml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uplight", description="Self-hosted status page and uptime monitor."
    )
    parser.add_argument("--version", action="version", version=f"uplight {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the monitor and serve the status page")
    _config_option(serve)
    serve.add_argument(
        "--log-level", default=os.environ.get("UPLIGHT_LOG_LEVEL", "info"), help="default: info"
    )
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check-config", help="validate a config file and report every error")
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path(os.environ.get("UPLIGHT_CONFIG", DEFAULT_CONFIG)),
        help=f"config file (default: $UPLIGHT_CONFIG or {DEFAULT_CONFIG})",
    )
    check.set_defaults(func=cmd_check_config)

    plugins = sub.add_parser("plugins", help="list loaded plugins and what each provides")
    plugins.set_defaults(func=cmd_plugins)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path(os.environ.get("UPLIGHT_CONFIG", DEFAULT_CONFIG)),
        help=f"config file (default: $UPLIGHT_CONFIG or {DEFAULT_CONFIG})",
    )


def _load(path: Path) -> tuple[Config, PluginRegistry] | None:
    """Plugins, then config; print what is wrong and return None on failure."""
    try:
        registry = load_plugins()
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    try:
        config = load_config(path, registry.check_types)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    return config, registry


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = _load(args.path)
    if loaded is None:
        return 1
    config, _ = loaded
    types = sorted({m.type for m in config.monitors})
    print(
        f"{args.path}: OK: {len(config.monitors)} monitors ({', '.join(types) or 'none'}), "
        f"{len(config.pages)} pages"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per outgoing check request is noise; check results are stored instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    loaded = _load(args.config)
    if loaded is None:
        return 1
    from .web.serve import serve  # Quart is imported only when serving

    asyncio.run(serve(*loaded))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    try:
        registry = load_plugins()
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for info in registry.plugins.values():
        origin = "built-in" if info.builtin else (info.distribution or "registered in code")
        version = f" {info.version}" if info.version and not info.builtin else ""
        print(f"{info.name}  ({origin}{version})")
        for kind, names in sorted(info.provides.items()):
            print(f"    {kind}: {', '.join(sorted(names))}")
    return 0
