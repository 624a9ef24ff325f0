"""What must hold before uplight starts serving, checked up front so a mistake is one
clear line and exit status 1, not a traceback from deep inside start-up."""

from __future__ import annotations

import socket

from ..config import Config, ConfigError, ConfigIssue, check_database_path


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
    # The same check as `uplight check-config`: what one accepts, the other does not refuse.
    issues.extend(check_database_path(config))
    if issues:
        raise ConfigError(issues, config.source)
