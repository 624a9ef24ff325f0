"""Commands to run and inspect uplight: serve, check-config, plugins."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, ConfigIssue, check_database_path, parse_listen
from ..eventloop import EVENT_LOOPS, EventLoopUnavailable, LoopFactory, loop_factory, resolve
from ..logs import LOG_FORMATS, configure_logging
from ..memory import tune_allocator
from ..plugins import PluginError, load_plugins
from .common import add_config_option, default_config_path, load

log = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the monitor and serve the status page")
    add_config_option(serve)
    serve.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=os.environ.get("UPLIGHT_LOG_LEVEL", "info").lower(),
        help="default: info, or $UPLIGHT_LOG_LEVEL",
    )
    serve.add_argument(
        "--log-format",
        type=str.lower,
        choices=LOG_FORMATS,
        default=os.environ.get("UPLIGHT_LOG_FORMAT", "text").lower(),
        help="text (default) or json: one JSON object a line; or $UPLIGHT_LOG_FORMAT",
    )
    serve.add_argument(
        "--listen",
        type=listen_argument,
        metavar="HOST:PORT",
        help="address to listen on instead of [server] listen (also $UPLIGHT_LISTEN),"
        ' e.g. 0.0.0.0:8080 or "[::]:8080"',
    )
    serve.add_argument(
        "--event-loop",
        type=str.lower,
        choices=EVENT_LOOPS,
        default=os.environ.get("UPLIGHT_EVENT_LOOP", "").lower() or None,
        help="auto (uvloop when installed), asyncio or uvloop, instead of [server] event_loop"
        " (also $UPLIGHT_EVENT_LOOP)",
    )
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check-config", help="validate a config file and report every error")
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=default_config_path(),
        help="config file (default: $UPLIGHT_CONFIG or config.toml)",
    )
    check.set_defaults(func=cmd_check_config)

    plugins = sub.add_parser("plugins", help="list loaded plugins and what each provides")
    plugins.set_defaults(func=cmd_plugins)


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = load(args.path)
    if loaded is None:
        return 1
    config, _ = loaded
    # As `serve` checks before it starts: a config that passes here must not fail there.
    unusable = check_database_path(config)
    if unusable:
        print(ConfigError(unusable, config.source), file=sys.stderr)
        return 1
    try:
        chosen_loop(config, None)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    types = sorted({m.type for m in config.monitors})
    print(
        f"{args.path}: OK: {_count(len(config.monitors), 'monitor')}"
        f" ({', '.join(types) or 'none'}), {_count(len(config.pages), 'page')},"
        f" {_count(len(config.notifiers), 'notification channel')}"
    )
    for line in _unheard_monitors(config):
        print(line, file=sys.stderr)
    return 0


def _unheard_monitors(config: Config) -> list[str]:
    """Warnings for monitors that name channels of their own but open no incident.

    Every monitor opens incidents, on a page or not, unless it has ``incidents =
    false``; every notification but a certificate warning is about an incident. A
    monitor that opts out yet lists its own ``notify`` channels is likely a mistake
    (one that only inherits ``[defaults] notify`` is not). Still a valid config: the
    channels get its certificate warnings.
    """
    warnings = []
    for index, monitor in enumerate(config.monitors):
        if monitor.incidents or not monitor.notify:
            continue
        warnings.append(
            f"warning: monitors[{index}] ({monitor.id!r}) notifies {', '.join(monitor.notify)}"
            " but has incidents = false: only certificate warnings reach them"
        )
    return warnings


def cmd_serve(args: argparse.Namespace) -> int:
    allocator = tune_allocator()  # first: before any thread has a malloc arena
    if args.log_level not in LOG_LEVELS:  # argparse checks choices, not defaults
        print(
            f"error: UPLIGHT_LOG_LEVEL={args.log_level!r}: use one of {', '.join(LOG_LEVELS)}",
            file=sys.stderr,
        )
        return 2
    if args.log_format not in LOG_FORMATS:
        print(
            f"error: UPLIGHT_LOG_FORMAT={args.log_format!r}: use one of {', '.join(LOG_FORMATS)}",
            file=sys.stderr,
        )
        return 2
    if args.event_loop is not None and args.event_loop not in EVENT_LOOPS:
        print(
            f"error: UPLIGHT_EVENT_LOOP={args.event_loop!r}: use one of {', '.join(EVENT_LOOPS)}",
            file=sys.stderr,
        )
        return 2
    configure_logging(args.log_level, args.log_format)
    # One line per outgoing check request is noise; check results are stored instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    listen = args.listen or os.environ.get("UPLIGHT_LISTEN") or None
    if args.listen is None and listen is not None and (problem := _listen_problem(listen)):
        print(f"error: UPLIGHT_LISTEN={listen!r}: {problem}", file=sys.stderr)
        return 2
    loaded = load(args.config)
    if loaded is None:
        return 1
    if listen is not None:
        loaded = (loaded[0].with_listen(listen), loaded[1])
    try:
        factory = chosen_loop(loaded[0], args.event_loop)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    from ..web.preflight import preflight  # Quart is imported only when serving
    from ..web.serve import StartupFailed, serve

    log.info("memory: %s", allocator)
    try:
        preflight(loaded[0])
        run_until_done(serve(*loaded), loop_factory=factory)
    except ConfigError as exc:  # also: a file the config names changed since it was read
        print(exc, file=sys.stderr)
        return 1
    except StartupFailed:
        return 1  # why is logged ("uplight could not start …")
    return 0


def chosen_loop(config: Config, override: str | None) -> LoopFactory:
    """The event loop ``serve`` runs on: ``--event-loop`` or ``$UPLIGHT_EVENT_LOOP``,
    else ``[server] event_loop``; :class:`ConfigError` when it names a missing loop."""
    try:
        return loop_factory(resolve(override or config.server.event_loop))
    except EventLoopUnavailable as exc:
        where = "--event-loop / UPLIGHT_EVENT_LOOP" if override else "server.event_loop"
        raise ConfigError([ConfigIssue(where, str(exc))], config.source) from None


def _listen_problem(value: str) -> str | None:
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc)
    return None


def listen_argument(value: str) -> str:
    """``--listen``: checked as ``[server] listen`` is, so argparse names the flag."""
    problem = _listen_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{value!r}: {problem}")
    return value


def run_until_done(
    main: Coroutine[Any, Any, None],
    grace: float = 2.0,
    loop_factory: LoopFactory = asyncio.new_event_loop,
) -> None:
    """``asyncio.run``, except that a task which ignores cancellation (a misbehaving
    check plugin) cannot keep the process alive after shutdown: by then the results
    are flushed and the database is closed, so such a task is left behind."""
    loop = loop_factory()
    try:
        loop.run_until_complete(main)
        leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(asyncio.wait(leftover, timeout=grace))
        stuck = [t for t in leftover if not t.done()]
        if stuck:
            log.warning("exiting with %d task(s) that ignored cancellation", len(stuck))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        if not loop.is_closed():
            loop.close()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def cmd_plugins(args: argparse.Namespace) -> int:
    try:
        registry = load_plugins()
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for info in registry.plugins.values():
        origin = "built-in" if info.builtin else (info.distribution or "registered in code")
        version = f" {info.version}" if info.version and not info.builtin else ""
        print(f"{info.name}  ({origin}{version})")
        for kind, names in sorted(info.provides.items()):
            print(f"    {kind}: {', '.join(sorted(names))}")
    return 0
