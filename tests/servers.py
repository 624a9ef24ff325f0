"""Real servers on 127.0.0.1 for tests: HTTP(S) with a route table, garbage, refused.

Plain classes and context managers (not fixtures) so any test package can use them::

    with HttpServer({"/": Route(200, "hello")}) as server:
        server.url("/")            # "http://127.0.0.1:PORT/"
        server.requests            # what arrived: method, path, headers, body

    ca = trustme.CA()
    with HttpServer(routes, tls=server_tls_context(ca, "127.0.0.1")) as server: ...

Every server runs in daemon threads, binds a free port and stops on exit; delays
end early when the server stops, so a test never waits for a sleeping handler.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import trustme

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass
class Route:
    """What the server answers on one path. ``delay`` is seconds before the headers."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RoutingServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.requests.append(RecordedRequest(self.command, self.path, headers, body))
        route = self.server.owner.routes.get(self.path.split("?")[0], Route(404, "not found"))
        if route.delay and self.server.owner.stopping.wait(route.delay):
            return
        payload = route.body.encode() if isinstance(route.body, str) else route.body
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


for _method in METHODS:
    setattr(_Handler, f"do_{_method}", _Handler._answer)


class _RoutingServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: HttpServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed TLS handshakes are part of the tests, not noise to print


class _Background:
    """Runs a socketserver in a thread; subclasses build ``self._server``."""

    _server: socketserver.TCPServer

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class HttpServer(_Background):
    """An HTTP/1.1 server on 127.0.0.1; HTTPS when given a server ``tls`` context.

    ``port``: a fixed port, e.g. one a client was refused on before the server came up.
    """

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        port: int = 0,
    ):
        super().__init__()
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self.scheme = "https" if tls else "http"
        self._server = _RoutingServer(("127.0.0.1", port), _Handler)
        self._server.owner = self
        if tls is not None:
            # The handshake runs in the handler thread, so a stalled client blocks nobody.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class _GarbageHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(1)
        try:
            self.request.recv(65536)
            self.request.sendall(self.server.reply)  # type: ignore[attr-defined]
        except OSError:
            pass


class GarbageServer(_Background):
    """A TCP server that answers any request with bytes that are not HTTP, then closes."""

    def __init__(self, reply: bytes = b"SSH-2.0-OpenSSH_9.6 not http at all\r\n\r\n"):
        super().__init__()
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _GarbageHandler)
        self._server.daemon_threads = True
        self._server.reply = reply  # type: ignore[attr-defined]


def refused_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_tls_context(ca: trustme.CA, *hostnames: str) -> ssl.SSLContext:
    """A server-side context presenting a certificate from ``ca`` for ``hostnames``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(hostnames or ("127.0.0.1", "localhost"))).configure_cert(context)
    return context
