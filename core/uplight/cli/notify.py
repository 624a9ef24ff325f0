"""`uplight notify test CHANNEL`: send one test message through a channel, now.

It goes straight through the channel plugin with the options of the config
file, not through the outbox of a running server, so it works whether or not
uplight is running and shows the channel's own error when it fails
(``notify/channels.py``, which the console's "Send a test" calls too).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..clock import SystemClock
from ..notify.channels import send_test
from .common import add_config_option, load


def register(sub: argparse._SubParsersAction) -> None:
    notify = sub.add_parser("notify", help="notification channels")
    actions = notify.add_subparsers(title="actions", metavar="ACTION", required=True)
    test = actions.add_parser("test", help="send a test message through a channel")
    test.add_argument("channel", metavar="CHANNEL", help="a [[notifiers]] id")
    add_config_option(test)
    test.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    if loaded is None:
        return 1
    config, registry = loaded
    channel = config.notifier(args.channel)
    if channel is None:
        known = ", ".join(n.id for n in config.notifiers) or "none"
        print(f"error: no notifier has id {args.channel!r} (configured: {known})", file=sys.stderr)
        return 1
    if not channel.enabled:
        print(f"note: {channel.id} has enabled = false: incidents are not sent to it")
    # The console's "Send a test" runs the same function; its error is scrubbed.
    result = asyncio.run(send_test(channel, registry.notifiers, SystemClock().now()))
    if result.error is not None:
        print(f"error: {channel.id} ({channel.type}): {result.error}", file=sys.stderr)
        return 1
    print(f"sent: test message to {channel.id} ({channel.type})")
    return 0
