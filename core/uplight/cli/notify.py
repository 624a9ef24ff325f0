"""`uplight notify test CHANNEL`: send one test message through a channel, now.

It goes straight through the channel plugin with the options of the config
file, not through the outbox of a running server, so it works whether or not
uplight is running and shows the channel's own error when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..clock import SystemClock
from ..notify import messages
from ..notify.scrub import describe_error
from ..notify.worker import SEND_TIMEOUT, send_bounded, send_limit
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
    notifier_type = registry.notifiers[channel.type]  # the config loader checked it exists
    message = messages.test_notification(channel.id, SystemClock().now())
    if not channel.enabled:
        print(f"note: {channel.id} has enabled = false: incidents are not sent to it")
    try:
        limit = send_limit(channel.options, SEND_TIMEOUT)
        asyncio.run(send_bounded(notifier_type(), channel.options, message, limit))
    except Exception as exc:
        # The same scrubbing as the worker's log: the error never shows a secret.
        error = describe_error(exc, channel.options)
        print(f"error: {channel.id} ({channel.type}): {error}", file=sys.stderr)
        return 1
    print(f"sent: test message to {channel.id} ({channel.type})")
    return 0
