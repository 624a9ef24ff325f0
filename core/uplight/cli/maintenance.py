"""`uplight maintenance list|schedule|update|cancel|complete|purge`, via the admin API."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from ..durations import parse_duration
from .api_client import ApiClient, add_api_options, run_api_command
from .common import print_table
from .times import TimeError, parse_time, time_zone, wire_time

PATH = "/api/v1/maintenance"
HEADERS = ["id", "status", "severity", "starts_at", "ends_at", "components", "title"]
STATUSES = ("upcoming", "active", "scheduled", "completed", "cancelled")


def register(sub: argparse._SubParsersAction) -> None:
    maintenance = sub.add_parser("maintenance", help="schedule and manage maintenance windows")
    actions = maintenance.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="maintenance windows, newest start first (upcoming: soonest first)"
    )
    listing.add_argument("--status", choices=STATUSES, help="only windows in this state")
    listing.add_argument("--limit", type=int, help="how many (1-200, default 50)")
    listing.add_argument(
        "--cursor", metavar="C", help="the next page: the cursor a previous list printed"
    )
    add_api_options(listing)
    listing.set_defaults(func=cmd_list)

    schedule = actions.add_parser("schedule", help="schedule a maintenance window")
    schedule.add_argument("--title", required=True, help="what happens, for the status page")
    schedule.add_argument("--starts-at", required=True, metavar="TIME", help=_TIME_HELP)
    end = schedule.add_mutually_exclusive_group(required=True)
    end.add_argument("--ends-at", metavar="TIME", help=_TIME_HELP)
    end.add_argument(
        "--duration", metavar="DURATION", help="how long from --starts-at, e.g. 30m, 1h, 2h30m"
    )
    _tz_option(schedule)
    schedule.add_argument("--description", help="more detail")
    schedule.add_argument("--severity", help="info (default), warning or critical")
    _component_option(schedule)
    add_api_options(schedule)
    schedule.set_defaults(func=cmd_schedule)

    update = actions.add_parser(
        "update",
        help="change a scheduled or active window (a cancelled one: --title and"
        " --description); unset flags stay as they are",
    )
    _id_argument(update)
    update.add_argument("--title")
    update.add_argument("--starts-at", metavar="TIME", help=_TIME_HELP)
    update.add_argument("--ends-at", metavar="TIME", help=_TIME_HELP)
    _tz_option(update)
    description = update.add_mutually_exclusive_group()
    description.add_argument("--description")
    description.add_argument("--clear-description", action="store_true", help="no description")
    update.add_argument("--severity", help="info, warning or critical")
    components = update.add_mutually_exclusive_group()
    _component_option(components, replaces=True)
    components.add_argument("--clear-components", action="store_true", help="affect no monitor")
    add_api_options(update)
    update.set_defaults(func=cmd_update)

    for name, help_text, func in (
        ("show", "one maintenance window", cmd_show),
        ("cancel", "cancel a window (it stays on record)", cmd_cancel),
        ("complete", "end an active window now", cmd_complete),
        ("purge", "delete a window for good", cmd_purge),
    ):
        parser = actions.add_parser(name, help=help_text)
        _id_argument(parser)
        add_api_options(parser)
        parser.set_defaults(func=func)


_TIME_HELP = (
    "now, a local time such as 2030-01-05T03:00 (in --tz, else this machine's zone)"
    " or ISO 8601 with an offset, e.g. 2030-01-05T03:00:00Z"
)


def _tz_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone of times given without an offset, e.g. Europe/Berlin"
        " (default: this machine's)",
    )


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int, metavar="ID", help="the window's id")


def _component_option(parser: Any, *, replaces: bool = False) -> None:
    parser.add_argument(
        "--component",
        action="append",
        dest="components",
        metavar="MONITOR_ID",
        help="an affected monitor; repeat for more" + (" (replaces the list)" if replaces else ""),
    )


def _row(window: dict[str, Any]) -> list[Any]:
    return [
        window["id"],
        window["status"],
        window["severity"],
        window["starts_at"],
        window["ends_at"],
        ",".join(window["component_ids"]),
        window["title"],
    ]


def print_windows(windows: list[dict[str, Any]]) -> None:
    print_table(HEADERS, [_row(w) for w in windows])


def print_window(window: dict[str, Any]) -> None:
    width = max(len(key) for key in window)
    for key, value in window.items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:<{width}}  {'' if value is None else value}".rstrip())


def cmd_list(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        body = client.get(PATH, status=args.status, limit=args.limit, cursor=args.cursor)
        cursor = body.get("next_cursor")
        if cursor and args.json:
            # stdout stays the JSON list scripts already parse; the position goes aside.
            print(f"next cursor: {cursor}", file=sys.stderr)

        def show(windows: list[dict[str, Any]]) -> None:
            print_windows(windows)
            if cursor:
                # The same filters are needed with the cursor: it is a position, not a query.
                print(f"(more: repeat with --cursor {cursor} for the next page)")

        return body["items"], show

    return run_api_command(args, action)


def _times(args: argparse.Namespace) -> dict[str, str]:
    """``starts_at`` and ``ends_at`` for the API (UTC), from the flags that were given."""
    zone = time_zone(args.tz)
    now = dt.datetime.now(dt.UTC)
    times: dict[str, dt.datetime] = {}
    for flag, field in (("--starts-at", "starts_at"), ("--ends-at", "ends_at")):
        if getattr(args, field) is not None:
            times[field] = parse_time(flag, getattr(args, field), zone, now)
    if getattr(args, "duration", None) is not None:
        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            raise TimeError(f"--duration: {exc}") from None
        if seconds <= 0:
            raise TimeError("--duration: must be more than 0s")
        times["ends_at"] = times["starts_at"] + dt.timedelta(seconds=seconds)
    return {field: wire_time(moment) for field, moment in times.items()}


def _time_error(exc: TimeError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def cmd_schedule(args: argparse.Namespace) -> int:
    try:
        times = _times(args)
    except TimeError as exc:
        return _time_error(exc)
    body: dict[str, Any] = {
        "title": args.title,
        **times,
        "component_ids": args.components or [],
    }
    for field in ("description", "severity"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.post(PATH, body), print_window

    return run_api_command(args, action)


def cmd_update(args: argparse.Namespace) -> int:
    try:
        body: dict[str, Any] = _times(args)
    except TimeError as exc:
        return _time_error(exc)
    for field in ("title", "description", "severity"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.clear_description:
        body["description"] = None
    if args.components is not None:
        body["component_ids"] = args.components
    elif args.clear_components:
        body["component_ids"] = []
    if not body:
        print(
            "error: nothing to change: give --title, --starts-at, --ends-at, --description,"
            " --severity, --component or a --clear-… flag",
            file=sys.stderr,
        )
        return 2

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.patch(f"{PATH}/{args.id}", body), print_window

    return run_api_command(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    return run_api_command(args, lambda client: (client.get(f"{PATH}/{args.id}"), print_window))


def cmd_cancel(args: argparse.Namespace) -> int:
    return run_api_command(args, lambda client: (client.delete(f"{PATH}/{args.id}"), print_window))


def cmd_complete(args: argparse.Namespace) -> int:
    return run_api_command(
        args, lambda client: (client.post(f"{PATH}/{args.id}/complete"), print_window)
    )


def cmd_purge(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        client.post(f"{PATH}/{args.id}/purge")
        return {"id": args.id, "purged": True}, _print_purged

    return run_api_command(args, action)


def _print_purged(result: dict[str, Any]) -> None:
    print(f"maintenance window {result['id']} purged")
