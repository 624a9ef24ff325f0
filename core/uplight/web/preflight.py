"""What must hold before uplight starts serving, checked up front so a mistake is one
clear line and exit status 1, not a traceback from deep inside start-up."""

from __future__ import annotations

import socket
import sqlite3

from ..config import Config, ConfigError, ConfigIssue


def preflight(config: Config) -> None:
    """Raise :class:`ConfigError` naming the key when the port or the database is unusable."""
    issues = []
    host, port = config.server.host, config.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR, as the server itself binds: a socket in TIME_WAIT is no conflict.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            issues.append(
                ConfigIssue(
                    "server.listen", f"cannot listen on {config.server.listen}: {exc.strerror}"
                )
            )
    path = config.database_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        issues.append(ConfigIssue("storage.path", f"cannot open {path}: {reason}"))
    if issues:
        raise ConfigError(issues, config.source)
