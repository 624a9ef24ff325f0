"""`uplight token create|list|revoke`: works on the database directly."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from ..auth.tokens import TokenExists, create_token, list_tokens, name_problem, revoke_token
from ..config.models import ID_PATTERN, ID_RULE
from ..db.store import Store
from ..schema import build_store
from .common import add_config_option, load, print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="create, list and revoke admin API tokens")
    actions = token.add_subparsers(title="actions", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, help="a name to recognise and revoke it by")
    create.add_argument(
        "--probe",
        action="store_true",
        help="a probe token: reads its location's assignment and pushes results, nothing else",
    )
    create.add_argument(
        "--location",
        help="the location a probe token is bound to (default: its --name)",
    )
    add_config_option(create)
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser("list", help="list token names (never the tokens)")
    add_config_option(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    add_config_option(revoke)
    revoke.set_defaults(func=cmd_revoke)


def _with_store(args: argparse.Namespace, work) -> int:
    loaded = load(args.config)
    if loaded is None:
        return 1
    config, _ = loaded

    async def run() -> int:
        async with build_store(config.database_location) as store:
            return await work(store)

    return asyncio.run(run())


def cmd_create(args: argparse.Namespace) -> int:
    name = args.name.strip()
    problem = name_problem(name)
    if problem is not None:
        print(f"error: --name {problem}", file=sys.stderr)
        return 1
    location = None
    if args.location is not None and not args.probe:
        print("error: --location is only for a probe token (--probe)", file=sys.stderr)
        return 1
    if args.probe:
        location = args.location if args.location is not None else name
        if not re.match(ID_PATTERN, location):
            flag = "--location" if args.location is not None else "--name (as the location)"
            print(f"error: {flag}: a location name is {ID_RULE}", file=sys.stderr)
            return 1

    async def work(store: Store) -> int:
        try:
            token = await create_token(store, name, location=location)
        except TokenExists:
            print(f"error: a token named {name!r} exists; revoke it first", file=sys.stderr)
            return 1
        print(token)
        print(f"token {name!r} created; it is shown only this once", file=sys.stderr)
        return 0

    return _with_store(args, work)


def cmd_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        tokens = await list_tokens(store)
        if args.json:
            print_json(
                [
                    {"name": t.name, "created_at": t.created_at, "probe_location": t.location}
                    for t in tokens
                ]
            )
        elif any(t.location for t in tokens):
            print_table(
                ["name", "created_at", "probe_location"],
                [(t.name, t.created_at, t.location or "") for t in tokens],
            )
        else:
            print_table(["name", "created_at"], [(t.name, t.created_at) for t in tokens])
        return 0

    return _with_store(args, work)


def cmd_revoke(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        if not await revoke_token(store, args.name):
            print(f"error: no token named {args.name!r}", file=sys.stderr)
            return 1
        print(f"token {args.name!r} revoked")
        return 0

    return _with_store(args, work)
