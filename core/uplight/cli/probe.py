"""`uplight probe`: check one location's assignment and send the results to the server
(docs/probes.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path

from ..config.models import ID_PATTERN, ID_RULE
from ..logs import configure_logging
from ..plugins import load_plugins
from ..probes.client import Probe, ProbeRefused, ProbeSettings
from ..probes.spool import DEFAULT_LIMIT, Spool

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    probe = sub.add_parser(
        "probe", help="check the monitors of one location and send the results to a server"
    )
    probe.add_argument("--server", required=True, help="the server's URL, e.g. https://up.example")
    probe.add_argument(
        "--token",
        default=os.environ.get("UPLIGHT_PROBE_TOKEN"),
        help="a probe token (uplight token create --probe); or $UPLIGHT_PROBE_TOKEN",
    )
    probe.add_argument("--location", required=True, help="this probe's location name")
    probe.add_argument(
        "--spool",
        type=Path,
        help="the spool file (results waiting for the server); default: ./probe-LOCATION.spool",
    )
    probe.add_argument(
        "--spool-limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"results kept while the server is away; the oldest go first (default {DEFAULT_LIMIT})",
    )
    probe.add_argument("--poll-interval", type=float, default=30.0, help=argparse.SUPPRESS)
    probe.add_argument("--send-interval", type=float, default=1.0, help=argparse.SUPPRESS)
    probe.add_argument("--retry-interval", type=float, default=5.0, help=argparse.SUPPRESS)
    probe.add_argument(
        "--log-level",
        type=str.lower,
        choices=("debug", "info", "warning", "error", "critical"),
        default="info",
    )
    probe.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    if not args.token:
        print("error: --token is required (or $UPLIGHT_PROBE_TOKEN)", file=sys.stderr)
        return 1
    if not re.match(ID_PATTERN, args.location):
        print(f"error: --location: use {ID_RULE}", file=sys.stderr)
        return 1
    if not re.match(r"^https?://", args.server):
        print("error: --server must be an http:// or https:// URL", file=sys.stderr)
        return 1
    if args.spool_limit < 1:
        print("error: --spool-limit must be at least 1", file=sys.stderr)
        return 1
    configure_logging(args.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = ProbeSettings(
        server=args.server,
        token=args.token,
        location=args.location,
        poll_interval=args.poll_interval,
        send_interval=args.send_interval,
        retry_interval=args.retry_interval,
    )
    spool = Spool(args.spool or Path(f"probe-{args.location}.spool"), limit=args.spool_limit)
    try:
        return asyncio.run(_run(settings, spool))
    finally:
        print(
            f"probe stopped: {spool.pending()} results wait in the spool,"
            f" {spool.dropped} dropped since it was made",
            file=sys.stderr,
        )
        spool.close()


async def _run(settings: ProbeSettings, spool: Spool) -> int:
    probe = Probe(settings, spool, load_plugins().check_types)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    try:
        await probe.run()
    except ProbeRefused as exc:
        print(f"error: the server refused this probe: {exc}", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        return 0  # what was not sent waits in the spool for the next start
    return 0
