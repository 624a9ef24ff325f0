"""`uplight incidents list|show|update|post|open|resolve`: through the admin API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .api_client import ApiClient, add_api_options, run_api_command
from .common import print_table

PHASES = "investigating, identified, monitoring, resolved, postmortem"
SEVERITIES = "minor, major, critical"
COMPONENT_STATUSES = "degraded, partial_outage, major_outage"


def register(sub: argparse._SubParsersAction) -> None:
    incidents = sub.add_parser(
        "incidents", help="list incidents, narrate them, post updates, open manual ones"
    )
    actions = incidents.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="incidents, newest first")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only incidents still active")
    state.add_argument("--ended", action="store_true", help="only incidents that have ended")
    listing.add_argument("--monitor", metavar="ID", help="only this monitor's incidents")
    listing.add_argument(
        "--since",
        metavar="ISO",
        help="only incidents still active at or after this time (ISO 8601 with an offset)",
    )
    listing.add_argument("--limit", type=int, default=50, help="how many (1-200, default 50)")
    listing.add_argument(
        "--cursor", metavar="C", help="the next page: the cursor a previous list printed"
    )
    add_api_options(listing)
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="one incident and its timeline")
    show.add_argument("id", type=int)
    add_api_options(show)
    show.set_defaults(func=cmd_show)

    update = actions.add_parser(
        "update", help="set or clear the public title, description or severity"
    )
    update.add_argument("id", type=int)
    _set_or_clear(update, "title", "public title", "back to the automatic title")
    _set_or_clear(update, "description", "public description", "no description")
    _set_or_clear(
        update, "severity", f"severity override: {SEVERITIES}", "back to the engine's severity"
    )
    add_api_options(update)
    update.set_defaults(func=cmd_update)

    post = actions.add_parser("post", help="post a timeline update")
    post.add_argument("id", type=int)
    post.add_argument("--phase", required=True, help=PHASES)
    post.add_argument("--message", required=True)
    add_api_options(post)
    post.set_defaults(func=cmd_post)

    opening = actions.add_parser(
        "open", help="open a manual incident, for what no check sees (an ISP outage…)"
    )
    opening.add_argument("--title", required=True, help="the public title")
    opening.add_argument("--description", help="the public description")
    opening.add_argument("--severity", help=f"{SEVERITIES} (default minor)")
    opening.add_argument(
        "--component",
        metavar="ID",
        action="append",
        dest="components",
        help="a monitor it concerns (repeat for more); none: the whole --page, or every page",
    )
    opening.add_argument("--page", metavar="SLUG", help="show it on this page only")
    opening.add_argument(
        "--status",
        help=f"the public state of its components while it lasts: {COMPONENT_STATUSES}",
    )
    opening.add_argument("--phase", help=f"of the first update: {PHASES} (default investigating)")
    opening.add_argument("--message", help="the first timeline update")
    add_api_options(opening)
    opening.set_defaults(func=cmd_open)

    resolve = actions.add_parser(
        "resolve", help="end a manual incident (an automatic one ends with its checks)"
    )
    resolve.add_argument("id", type=int)
    resolve.add_argument("--message", help="a final timeline update (phase resolved)")
    add_api_options(resolve)
    resolve.set_defaults(func=cmd_resolve)


def _set_or_clear(parser: argparse.ArgumentParser, name: str, help_text: str, cleared: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{name}", help=help_text)
    group.add_argument(f"--clear-{name}", action="store_true", help=f"clear it: {cleared}")


# The CLI's flag names → the API's field names.
_PATCH_FIELDS = {
    "title": "public_title",
    "description": "public_description",
    "severity": "severity",
}


def patch_body(args: argparse.Namespace) -> dict[str, str | None]:
    """Only what was asked: an omitted flag leaves the field, --clear-X sends null."""
    body: dict[str, str | None] = {}
    for flag, field in _PATCH_FIELDS.items():
        if getattr(args, f"clear_{flag}"):
            body[field] = None
        elif getattr(args, flag) is not None:
            body[field] = getattr(args, flag)
    return body


def _time(value: str | None) -> str:
    # The wire form minus the fractional seconds: a person reads a table.
    if not value:
        return "-"
    return value.split(".")[0].replace("T", " ").removesuffix("Z") + "Z"


def print_incidents(data: dict[str, Any]) -> None:
    print_table(
        ["id", "status", "severity", "monitor", "started", "ended", "title"],
        [
            (
                i["id"],
                i["status"],
                i["severity"],
                i["monitor_id"] if i["monitor_id"] is not None else "(manual)",
                _time(i["started_at"]),
                _time(i["ended_at"]) if i["ended_at"] else "",
                i["title"],
            )
            for i in data["items"]
        ],
    )
    if data.get("next_cursor"):
        # The same filters are needed with the cursor: it is a position, not a query.
        print(f"(more: repeat with --cursor {data['next_cursor']} for the next page)")


def print_incident(incident: dict[str, Any]) -> None:
    rows = [
        ("title", incident["title"]),
        ("status", incident["status"]),
        ("severity", incident["severity"]),
        *_concerns(incident),
        ("started", _time(incident["started_at"])),
        ("ended", _time(incident["ended_at"])),
        ("updated", _time(incident["updated_at"])),
    ]
    if incident["public_title"] is not None and incident["auto_title"] is not None:
        rows.append(("auto title", incident["auto_title"]))
    if incident["public_description"]:
        rows.append(("description", incident["public_description"]))
    print(f"incident {incident['id']}")
    for label, value in rows:
        print(f"  {label + ':':<13}{value}")
    updates = incident.get("updates")
    if updates:
        print()
        print_table(
            ["posted", "phase", "by", "message"],
            [(_time(u["created_at"]), u["phase"], u["created_by"], u["message"]) for u in updates],
        )


def _concerns(incident: dict[str, Any]) -> list[tuple[str, str]]:
    """What the incident is about: its monitor, or for a manual one what it names."""
    if not incident.get("manual"):
        return [("monitor", incident["monitor_id"])]
    if incident["component_ids"]:
        concerns = ", ".join(incident["component_ids"])
    else:
        concerns = "the whole page" if incident["page"] else "every page"
    rows = [("kind", "manual"), ("components", concerns)]
    if incident["page"]:
        rows.append(("page", incident["page"]))
    if incident["component_status"]:
        rows.append(("shown as", incident["component_status"]))
    return rows


def print_update(update: dict[str, Any]) -> None:
    print(f"update {update['id']} posted ({update['phase']}) at {_time(update['created_at'])}")


def cmd_list(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        # --since is passed as given: the API validates it (422 naming `since`).
        data = client.get(
            "/api/v1/incidents",
            active="true" if args.active else "false" if args.ended else None,
            monitor=args.monitor,
            since=args.since,
            limit=args.limit,
            cursor=args.cursor,
        )
        return data, print_incidents

    return run_api_command(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.get(f"/api/v1/incidents/{args.id}"), print_incident

    return run_api_command(args, action)


def cmd_update(args: argparse.Namespace) -> int:
    body = patch_body(args)
    if not body:
        print(
            "error: nothing to change: give --title, --description, --severity"
            " or one of their --clear- forms",
            file=sys.stderr,
        )
        return 2

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.patch(f"/api/v1/incidents/{args.id}", body), print_incident

    return run_api_command(args, action)


def cmd_post(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        body = {"phase": args.phase, "message": args.message}
        return client.post(f"/api/v1/incidents/{args.id}/updates", body), print_update

    return run_api_command(args, action)


def open_body(args: argparse.Namespace) -> dict[str, Any]:
    """Only what was given: the API's defaults stand for the rest."""
    body: dict[str, Any] = {"public_title": args.title}
    optional = {
        "public_description": args.description,
        "severity": args.severity,
        "component_ids": args.components,
        "page": args.page,
        "component_status": args.status,
        "phase": args.phase,
        "message": args.message,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def cmd_open(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.post("/api/v1/incidents", open_body(args)), print_incident

    return run_api_command(args, action)


def cmd_resolve(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        body = {"message": args.message} if args.message is not None else {}
        return client.post(f"/api/v1/incidents/{args.id}/resolve", body), print_incident

    return run_api_command(args, action)
