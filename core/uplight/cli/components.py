"""`uplight components list|add|update|remove|reorder`: a page's components, via the admin API."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from .api_client import ApiClient, add_api_options, run_api_command
from .common import print_table

HEADERS = ["target_id", "name", "group", "sort_order", "public_id"]


def register(sub: argparse._SubParsersAction) -> None:
    components = sub.add_parser(
        "components", help="list and change the components (monitors) shown on a status page"
    )
    actions = components.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the page's components, in order")
    _page_option(listing)
    add_api_options(listing)
    listing.set_defaults(func=cmd_list)

    add = actions.add_parser("add", help="put a monitor on the page (no-op if it is there)")
    _page_option(add)
    _monitor_option(add)
    add.add_argument("--name", help="public name (default: the monitor's name)")
    add.add_argument("--group", help="public group heading")
    add.add_argument("--description", help="public description")
    add.add_argument("--sort-order", type=int, help="position key (default: last)")
    add_api_options(add)
    add.set_defaults(func=cmd_add)

    update = actions.add_parser("update", help="change a component; unset flags stay as they are")
    _page_option(update)
    _monitor_option(update)
    for flag, what, cleared in (
        ("name", "public name", "back to the monitor's name"),
        ("group", "public group heading", "ungrouped"),
        ("description", "public description", "no description"),
    ):
        choice = update.add_mutually_exclusive_group()
        choice.add_argument(f"--{flag}", help=what)
        choice.add_argument(f"--clear-{flag}", action="store_true", help=cleared)
    update.add_argument("--sort-order", type=int, help="position key")
    add_api_options(update)
    update.set_defaults(func=cmd_update)

    remove = actions.add_parser("remove", help="take a monitor off the page")
    _page_option(remove)
    _monitor_option(remove)
    add_api_options(remove)
    remove.set_defaults(func=cmd_remove)

    reorder = actions.add_parser(
        "reorder", help="set the order: every monitor id on the page, first to last"
    )
    _page_option(reorder)
    reorder.add_argument("ids", nargs="+", metavar="ID", help="monitor ids in the new order")
    add_api_options(reorder)
    reorder.set_defaults(func=cmd_reorder)


def _page_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page", required=True, metavar="SLUG", help="the status page's slug")


def _monitor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitor", required=True, metavar="ID", help="the monitor's id")


def _path(args: argparse.Namespace, *rest: str) -> str:
    parts = ["status-pages", args.page, "components", *rest]
    return "/api/v1/" + "/".join(quote(part, safe="") for part in parts)


def _row(component: dict[str, Any]) -> list[Any]:
    return [
        component["target_id"],
        component["name"],
        component["public_group"],
        component["sort_order"],
        component["public_id"],
    ]


def _print_components(components: list[dict[str, Any]]) -> None:
    print_table(HEADERS, [_row(c) for c in components])


def _print_page(page: dict[str, Any]) -> None:
    _print_components(page["components"])


def _print_component(component: dict[str, Any]) -> None:
    _print_components([component])


def cmd_list(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        page = client.get("/api/v1/status-pages/" + quote(args.page, safe=""))
        return page["components"], _print_components

    return run_api_command(args, action)


def cmd_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"target_id": args.monitor}
    for flag, field in (
        ("name", "public_name"),
        ("group", "public_group"),
        ("description", "public_description"),
        ("sort_order", "sort_order"),
    ):
        value = getattr(args, flag)
        if value is not None:
            body[field] = value

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.post(_path(args), body), _print_component

    return run_api_command(args, action)


def cmd_update(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    for flag, field in (
        ("name", "public_name"),
        ("group", "public_group"),
        ("description", "public_description"),
    ):
        if getattr(args, f"clear_{flag}"):
            body[field] = None  # null: back to the default wording
        elif getattr(args, flag) is not None:
            body[field] = getattr(args, flag)
    if args.sort_order is not None:
        body["sort_order"] = args.sort_order
    if not body:
        print(
            "error: nothing to change: give --name, --group, --description, --sort-order"
            " or a --clear-… flag",
            file=sys.stderr,
        )
        return 2

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.patch(_path(args, args.monitor), body), _print_component

    return run_api_command(args, action)


def cmd_remove(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        client.delete(_path(args, args.monitor))
        return (
            {"removed": args.monitor, "page": args.page},
            lambda _: print(f"removed {args.monitor} from page {args.page}"),
        )

    return run_api_command(args, action)


def cmd_reorder(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.post(_path(args, "reorder"), {"target_ids": args.ids}), _print_page

    return run_api_command(args, action)
