"""What several command groups share: the config option, loading, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, load_config
from ..plugins import PluginError, PluginRegistry, load_plugins

DEFAULT_CONFIG = "config.toml"


def default_config_path() -> Path:
    return Path(os.environ.get("UPLIGHT_CONFIG", DEFAULT_CONFIG))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=default_config_path(),
        help=f"config file (default: $UPLIGHT_CONFIG or {DEFAULT_CONFIG})",
    )


def load(path: Path) -> tuple[Config, PluginRegistry] | None:
    """Plugins, then config; print what is wrong and return None on failure."""
    try:
        registry = load_plugins()
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    try:
        config = load_config(path, registry.check_types, registry.notifiers)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    return config, registry


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table for people; --json is for scripts."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*(h.upper() for h in headers)).rstrip())
    for row in cells:
        print(line.format(*row).rstrip())
    if not rows:
        print("(none)")
