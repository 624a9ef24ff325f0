"""``uplight init [PATH]``: a commented starter config, validated before it is written.

It never overwrites a file (the file is created exclusively, so not even a race
loses an admin's config) and ends by printing the command to run next.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ..config import ConfigError, parse_config
from ..plugins import PluginError, load_plugins
from .common import default_config_path
from .core import listen_argument

DEFAULT_TITLE = "Status"
DEFAULT_LISTEN = "127.0.0.1:8080"
MONITOR_ID_MAX = 64


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser(
        "init",
        help="write a commented starter config",
        description="Write a commented starter config, validated, and print the next command."
        " An existing file is never overwritten.",
    )
    init.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=default_config_path(),
        help="where to write it (default: $UPLIGHT_CONFIG or config.toml)",
    )
    init.add_argument(
        "--title", default=DEFAULT_TITLE, help=f"the status page's title (default: {DEFAULT_TITLE})"
    )
    init.add_argument(
        "--listen",
        type=listen_argument,
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"[server] listen (default: {DEFAULT_LISTEN})",
    )
    init.add_argument(
        "--monitor",
        action="append",
        type=monitor_url,
        default=[],
        metavar="URL",
        help="an http(s) URL to watch, shown on the page; repeat for several",
    )
    init.set_defaults(func=cmd_init)


def monitor_url(value: str) -> str:
    """``--monitor``: an absolute http(s) URL with a host, as the http check needs."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: must be an http:// or https:// URL, e.g. https://nas.home.arpa/"
        )
    return value


def monitor_id(url: str, taken: set[str]) -> str:
    """An id from the URL's host ("https://nas.home.arpa/" → "nas-home-arpa"), unique
    among ``taken`` by a number added."""
    host = urlsplit(url).hostname or ""
    base = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "monitor"
    base = base[: MONITOR_ID_MAX - 4].strip("-")  # room for "-999"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _toml(value: str) -> str:
    # A JSON string is a valid TOML basic string: the same quotes and escapes.
    return json.dumps(value, ensure_ascii=False)


def starter_config(title: str, listen: str, urls: list[str]) -> str:
    """The starter file's text: a page of the ``urls``' monitors, each option explained."""
    taken: set[str] = set()
    monitors = [(monitor_id(url, taken), urlsplit(url).hostname or url, url) for url in urls]
    text = f"""\
# uplight config, written by `uplight init`. Every option, with its default, is in
# config.example.toml in uplight's source; each check type's keys in docs/checks/.
# Durations are strings: "500ms", "30s", "5m", "1h".
# After an edit: `uplight check-config` validates the file, and a reload
# (`systemctl reload uplight`, or SIGHUP) applies it without a restart.

[server]
# Address and port the web server binds: "0.0.0.0:8080" or "[::]:8080" for every
# interface. `uplight serve --listen HOST:PORT` (or $UPLIGHT_LISTEN) overrides it.
listen = {_toml(listen)}
# The address visitors use, for links in feeds and notifications. Unset, it is
# derived from listen; set it when a reverse proxy or another name fronts uplight.
# public_base_url = "https://status.example.org"

[storage]
# The SQLite file; a relative path is relative to this file's folder.
path = "data/uplight.db"
# Raw check results older than this are pruned; daily summaries are kept for ever.
retention_days = 30
"""
    text += """
# ---------------------------------------------------------------------------
# Monitors: one [[monitors]] table each. Common keys: id (unique: lowercase
# letters, digits and '-'), name, type, interval, timeout (at most the interval),
# failure_threshold (failed checks in a row before the monitor is down). Other
# check types: dns, tls, tcp, ping, push (heartbeats), command, group, manual,
# feed, statuspage; their own keys are in docs/checks/.
"""
    for id_, name, url in monitors:
        text += f"""
[[monitors]]
id = {_toml(id_)}
name = {_toml(name)}
type = "http"
url = {_toml(url)}
interval = "60s"
timeout = "10s"
expect_status = ["2xx"]             # codes (200) or classes ("2xx")
# body_contains = ["ok"]            # every string must appear in the body
"""
    if not monitors:
        text += """
# [[monitors]]
# id = "homepage"
# name = "Homepage"
# type = "http"
# url = "https://example.org/"
# interval = "60s"
# timeout = "10s"
"""
    text += """
# ---------------------------------------------------------------------------
# The status page, at /status: only the monitors listed as its components appear
# on it, under their public names. A monitor on no page still opens incidents and
# notifies; nobody outside sees it.
"""
    if monitors:
        text += f"""
[[pages]]
slug = "main"
title = {_toml(title)}
"""
        for id_, name, _ in monitors:
            text += f"""
[[pages.components]]
monitor = {_toml(id_)}
public_name = {_toml(name)}
"""
    else:
        text += f"""
# [[pages]]
# slug = "main"
# title = {_toml(title)}
#
# [[pages.components]]
# monitor = "homepage"
# public_name = "Homepage"
"""
    text += """
# ---------------------------------------------------------------------------
# Notification channels (ntfy, email, Slack, Discord, webhooks, Apprise): see
# docs/notifications.md, then name them in a monitor's notify = ["id"].
"""
    return text


def _option_for(toml_path: str) -> str:
    """The command-line option that put a value at ``toml_path`` of the starter file."""
    for prefix, option in (("pages[0].title", "--title"), ("server.listen", "--listen")):
        if toml_path.startswith(prefix):
            return option
    if toml_path.startswith(("monitors[", "pages[0].components[")):
        return "--monitor"
    return toml_path or "config"


def cmd_init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() or path.is_symlink():
        print(
            f"error: {path} already exists: not overwritten (edit it, or name another path)",
            file=sys.stderr,
        )
        return 1
    text = starter_config(args.title, args.listen, args.monitor)
    try:
        registry = load_plugins()
        parse_config(text, registry.check_types, source=path, notifier_types=registry.notifiers)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # e.g. a --title the page would refuse
        for issue in exc.issues:
            print(f"error: {_option_for(issue.path)}: {issue.message}", file=sys.stderr)
        print(f"nothing written to {path}", file=sys.stderr)
        return 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as file:  # "x": never over an existing file
            file.write(text)
    except FileExistsError:
        print(f"error: {path} already exists: not overwritten", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    count = len(args.monitor)
    print(f"wrote {path} ({count} monitor{'' if count == 1 else 's'})")
    print("next, start uplight with it:")
    print(f"  uplight serve --config {shlex.quote(str(path))}")
    return 0
