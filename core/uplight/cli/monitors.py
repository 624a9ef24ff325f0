"""`uplight monitors …`: the monitors of the config.

``list``, ``show ID`` and ``set-state ID STATE`` ask a running uplight through the
admin API (``--url``, ``--token``; ``--json`` prints the API's JSON). ``ping-url
ID`` prints a push monitor's ping URL, for the crontab line that pings it. It
reads the config only (no server, no database): the URL holds the monitor's
secret token, so it is printed for the operator and nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from ..monitoring.pings import PingSetupError, monitor_token, ping_url
from .api_client import ApiClient, add_api_options, run_api_command
from .common import add_config_option, load, print_table

STATES = ("operational", "degraded", "down")


def register(sub: argparse._SubParsersAction) -> None:
    monitors = sub.add_parser("monitors", help="the monitors of the config")
    actions = monitors.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="every monitor: state, since when, newest result, pages, incident"
    )
    add_api_options(listing)
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="one monitor, with its thresholds and newest result")
    show.add_argument("id", help="the monitor's id")
    add_api_options(show)
    show.set_defaults(func=cmd_show)

    set_state = actions.add_parser(
        "set-state", help="set a manual monitor's state (kept across restarts)"
    )
    set_state.add_argument("id", help="the manual monitor's id")
    set_state.add_argument("state", choices=STATES)
    set_state.add_argument("--message", help="why, for the operator (never public)")
    add_api_options(set_state)
    set_state.set_defaults(func=cmd_set_state)

    register_ping_url(actions)


def register_ping_url(actions: argparse._SubParsersAction) -> None:
    ping = actions.add_parser(
        "ping-url", help="print a push monitor's ping URL (it holds its secret token)"
    )
    ping.add_argument("id", help="the monitor's id")
    add_config_option(ping)
    ping.set_defaults(func=cmd_ping_url)


def cmd_ping_url(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    if loaded is None:
        return 1
    config, registry = loaded
    monitor = config.monitor(args.id)
    if monitor is None:
        print(f"error: no monitor {args.id!r} in {args.config}", file=sys.stderr)
        return 1
    check_type = registry.check_types.get(monitor.type)
    if check_type is None or not check_type.accepts_pings:
        print(
            f"error: monitor {monitor.id!r} is a {monitor.type!r} monitor; only monitors of a"
            " type that receives pings (push) have a ping URL",
            file=sys.stderr,
        )
        return 1
    try:
        token = monitor_token(monitor, check_type)
    except PingSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(ping_url(config.server.public_base_url, token))
    return 0


def _time(value: str | None) -> str:
    # The wire form minus the fractional seconds: a person reads a table.
    if not value:
        return "-"
    return value.split(".")[0].replace("T", " ").removesuffix("Z") + "Z"


def _path(monitor_id: str) -> str:
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}"


def print_monitors(data: dict[str, Any]) -> None:
    rows = []
    for m in data["items"]:
        last = m["last_result"]
        incident = m["open_incident"]
        rows.append(
            (
                m["id"],
                m["type"],
                m["state"],
                _time(m["since"]),
                _time(last["checked_at"]) if last else "-",
                ",".join(m["pages"]) or "-",
                f"#{incident['id']} {incident['severity']}" if incident else "",
                _one_line(last["message"]) if last else "",
            )
        )
    print_table(["id", "type", "state", "since", "checked", "pages", "incident", "message"], rows)


def print_monitor(m: dict[str, Any]) -> None:
    thresholds = m["thresholds"]
    rows: list[tuple[str, Any]] = [
        ("name", m["name"]),
        ("type", m["type"]),
        ("state", m["state"]),
        ("since", _time(m["since"])),
        ("pages", ", ".join(m["pages"]) or "none"),
        (
            "thresholds",
            f"every {thresholds['interval_seconds']:g}s, timeout {thresholds['timeout_seconds']:g}s,"
            f" {thresholds['failure_threshold']} to fail, {thresholds['recovery_threshold']}"
            " to recover" + ("" if thresholds["incidents"] else ", no incidents"),
        ),
    ]
    last = m["last_result"]
    if last:
        latency = last["latency_seconds"]
        took = f", {latency * 1000:.0f} ms" if latency is not None else ""
        rows.append(("last check", f"{last['status']} at {_time(last['checked_at'])}{took}"))
        if last["message"]:
            rows.append(("message", _one_line(last["message"])))
        if last["error"]:
            rows.append(("error", last["error"]))
    incident = m["open_incident"]
    if incident:
        rows.append(
            (
                "incident",
                f"#{incident['id']} {incident['severity']} since {_time(incident['started_at'])}",
            )
        )
    op = m["operator_state"]
    if op:
        who = f" by {op['set_by']} at {_time(op['set_at'])}" if op["set_at"] else " (default)"
        rows.append(("set state", f"{op['status']}{who}"))
    for key, value in m["summary"].items():
        rows.append((key, value if isinstance(value, str) else _one_line(str(value))))
    print(f"monitor {m['id']}")
    for label, value in rows:
        print(f"  {label + ':':<13}{value}")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 100 else line[:99] + "…"


def cmd_list(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.get("/api/v1/monitors"), print_monitors

    return run_api_command(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.get(_path(args.id)), print_monitor

    return run_api_command(args, action)


def cmd_set_state(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"status": args.state}
    if args.message is not None:
        body["message"] = args.message

    def action(client: ApiClient) -> tuple[Any, Any]:
        return client.request("PUT", f"{_path(args.id)}/state", json=body), print_monitor

    return run_api_command(args, action)
