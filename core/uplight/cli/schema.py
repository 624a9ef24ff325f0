"""`uplight schema`: the config's JSON Schema, for editors (docs/configuration.md)."""

from __future__ import annotations

import argparse
import json
import sys

from ..config.json_schema import config_json_schema
from ..plugins import PluginError, load_plugins


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "schema",
        help="print the config's JSON Schema (for editor completion)",
        description=(
            "Print a JSON Schema (draft 2020-12) of config.toml, with the options of every"
            " installed check type and notifier, for editors that complete and check TOML"
            " (Taplo, Even Better TOML): `uplight schema > uplight.schema.json`, then start"
            " the config with `#:schema ./uplight.schema.json`."
        ),
    )
    parser.add_argument(
        "--builtins-only",
        action="store_true",
        help="leave out third-party plugins (how the repository's uplight.schema.json is made)",
    )
    parser.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    try:
        registry = load_plugins(builtins_only=args.builtins_only)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems: list[str] = []
    schema = config_json_schema(registry.check_types, registry.notifiers, problems)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    sys.stdout.write(schema_text(schema))
    return 0


def schema_text(schema: dict[str, object]) -> str:
    """Sorted keys and a final newline: the same plugins give the same bytes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
