"""Fixtures for check-type tests: real servers on loopback, certificates made here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import trustme

# tests/ is on sys.path (tests/conftest.py puts it there), so the shared module imports flat.
from servers import HttpServer, Route, server_tls_context


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., HttpServer]]:
    """Start an HttpServer (stopped after the test): ``serve({"/": Route(...)}, tls=ctx)``."""
    with ExitStack() as stack:

        def start(routes: dict[str, Route], **kwargs: object) -> HttpServer:
            return stack.enter_context(HttpServer(routes, **kwargs))  # type: ignore[arg-type]

        yield start


@pytest.fixture
def https(serve: Callable[..., HttpServer], ca: trustme.CA) -> Callable[..., HttpServer]:
    """Start an HTTPS server whose certificate (from ``ca``) names ``hostnames``."""

    def start(routes: dict[str, Route], *hostnames: str) -> HttpServer:
        return serve(routes, tls=server_tls_context(ca, *hostnames))

    return start
