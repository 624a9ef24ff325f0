"""`uplight status`: every monitor at a glance, once or redrawn every few seconds.

The admin API's ``GET /api/v1/monitors``: state, since when, the newest check's
latency and message. Colour by state only on a terminal without ``NO_COLOR``;
``--json`` prints the API's JSON (one line per refresh with ``--watch``). The
exit status says whether anything is down, so a script can ask without parsing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Callable
from time import sleep
from typing import Any, TextIO

from .api_client import ApiClient, ApiFailure, add_api_options, report_failure
from .common import print_json

PATH = "/api/v1/monitors"
DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 1.0
EXIT_DOWN = 3  # 1 is a failed request and 2 a usage error, as everywhere in the CLI
HEADERS = ("monitor", "state", "since", "latency", "message")
COLOURS = {
    "operational": "32",  # green
    "degraded": "33",  # yellow
    "down": "1;31",  # bold red
    "maintenance": "34",  # blue
    "no_data": "2",  # dim
}
CLEAR = "\x1b[H\x1b[2J"


def register(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status",
        help="every monitor: state, since when, latency, last message"
        f" (exit {EXIT_DOWN} when any is down)",
    )
    status.add_argument(
        "--watch",
        nargs="?",
        const=DEFAULT_INTERVAL,
        type=_interval,
        metavar="SECONDS",
        help=f"redraw every SECONDS (default {DEFAULT_INTERVAL:g}) until Ctrl-C",
    )
    # For tests and scripts that want a bounded watch: stop after this many redraws.
    status.add_argument("--count", type=int, help=argparse.SUPPRESS)
    add_api_options(status)
    status.set_defaults(func=cmd_status)


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds >= MIN_INTERVAL:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be at least {MIN_INTERVAL:g} second")
    return seconds


def exit_code(data: dict[str, Any]) -> int:
    return EXIT_DOWN if any(m["state"] == "down" for m in data["items"]) else 0


def use_colour(stream: TextIO) -> bool:
    # https://no-color.org: set and not empty means no colour.
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _since(value: str | None, now: dt.datetime) -> str:
    if not value:
        return "-"
    moment = dt.datetime.fromisoformat(value)
    shown = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{shown} ({_ago((now - moment).total_seconds())} ago)"


def _latency(last: dict[str, Any] | None) -> str:
    if not last or last["latency_seconds"] is None:
        return "-"
    return f"{last['latency_seconds'] * 1000:.0f} ms"


def _message(last: dict[str, Any] | None, room: int) -> str:
    text = " ".join((last or {}).get("message", "").split())
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


def render(
    data: dict[str, Any], *, now: dt.datetime, colour: bool = False, width: int | None = None
) -> str:
    """The table for people; ``width`` (a terminal's) cuts long messages to fit."""
    rows = [
        [
            m["id"],
            m["state"],
            _since(m["since"], now),
            _latency(m["last_result"]),
            m["last_result"],
        ]
        for m in data["items"]
    ]
    widths = [len(h) for h in HEADERS[:-1]]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row[:-1], strict=True)]
    room = max(width - sum(widths) - 2 * len(widths), 20) if width else 100
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(HEADERS, [*widths, 0], strict=True))]
    for row in rows:
        cells = [str(cell).ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        if colour and (code := COLOURS.get(row[1])):
            # Padded first, so the escape codes do not count towards the width.
            cells[1] = f"\x1b[{code}m{cells[1]}\x1b[0m"
        cells.append(_message(row[-1], room))
        lines.append("  ".join(cells))
    if not rows:
        lines.append("(no monitors)")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def summary(data: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for m in data["items"]:
        counts[m["state"]] = counts.get(m["state"], 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no monitors"


def draw(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    """One frame: ask the server, print the table (or the JSON), return the exit code."""
    data = client.get(PATH)
    if args.json:
        if args.watch is None:
            print_json(data)
        else:
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
        return exit_code(data)
    terminal = out.isatty()
    now = dt.datetime.now(dt.UTC)
    frame = render(
        data,
        now=now,
        colour=use_colour(out),
        width=shutil.get_terminal_size().columns if terminal else None,
    )
    if args.watch is not None:
        heading = (
            f"{client.base_url}  {summary(data)}  every {args.watch:g}s,"
            f" {now.astimezone():%H:%M:%S} (Ctrl-C to stop)\n\n"
        )
        # On a terminal the frame replaces the last; in a file or a pipe frames follow.
        frame = (CLEAR if terminal else "\n") + heading + frame
    out.write(frame)
    out.flush()
    return exit_code(data)


def watch(frame: Callable[[], int], interval: float, count: int | None) -> int:
    """Draw, wait ``interval`` seconds, draw again: until Ctrl-C, or ``count`` frames.

    A server that cannot be reached (restarting, say) is reported and asked again.
    """
    drawn, code = 0, 0
    while True:
        try:
            code = frame()
        except ApiFailure as exc:
            if exc.code != "UNREACHABLE":
                raise
            print(f"error: {exc.code}: {exc.message} (trying again)", file=sys.stderr)
            code = 1
        drawn += 1
        if count is not None and drawn >= count:
            return code
        sleep(interval)


def cmd_status(args: argparse.Namespace) -> int:
    try:
        client = ApiClient.from_args(args)
        if args.watch is None:
            return draw(client, args, sys.stdout)
        return watch(lambda: draw(client, args, sys.stdout), args.watch, args.count)
    except ApiFailure as exc:
        return report_failure(exc, as_json=args.json)
