"""`uplight monitors …`: the monitors of the config.

``ping-url ID`` prints a push monitor's ping URL, for the crontab line that
pings it. It reads the config only (no server, no database): the URL holds the
monitor's secret token, so it is printed for the operator and nowhere else.
"""

from __future__ import annotations

import argparse
import sys

from ..monitoring.pings import PingSetupError, monitor_token, ping_url
from .common import add_config_option, load


def register(sub: argparse._SubParsersAction) -> None:
    monitors = sub.add_parser("monitors", help="the monitors of the config")
    actions = monitors.add_subparsers(title="actions", metavar="ACTION", required=True)
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
