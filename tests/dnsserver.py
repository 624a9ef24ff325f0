"""A real DNS server on 127.0.0.1 for tests: UDP and TCP on one port, optional DoT/DoH.

It answers from a small zone and can be told to misbehave per name::

    zone = {
        "example.org": {"A": ["10.0.0.1", "10.0.0.2"], "MX": ["10 mail.example.org."]},
        "www.example.org": {"CNAME": ["example.org."]},
        "broken.example.org": Name(rcode="SERVFAIL"),
        "slow.example.org": Name({"A": ["10.0.0.3"]}, delay=5),
        "big.example.org": Name({"A": ["10.0.0.4"]}, truncate_udp=True),
        "junk.example.org": Name(garbage=b"\\xff\\x00junk"),
    }
    with DnsServer(zone) as server:
        server.address             # "127.0.0.1:PORT" (UDP and TCP)
        server.queries             # what arrived: name, type, transport

    with DnsServer(zone, tls=server_tls_context(ca, "127.0.0.1")) as server:
        server.tls_address         # DNS over TLS on its own port
        server.https_url           # DNS over HTTPS: "https://127.0.0.1:PORT/dns-query"
        server.transports("example.org")   # ["udp", "tcp"] after a truncated UDP answer

Names not in the zone get NXDOMAIN. A CNAME is followed inside the zone, as an
authoritative server does. Every listener runs in daemon threads and stops on exit;
delays end early when the server stops, so a test never waits for a sleeping handler.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

Records = dict[str, list[str]]  # record type -> values in presentation format


@dataclass
class Name:
    """What the server does for one owner name."""

    records: Records = field(default_factory=dict)
    rcode: str | None = None  # answer with this rcode (and no records), e.g. "SERVFAIL"
    delay: float = 0.0  # seconds to wait before answering
    truncate_udp: bool = False  # over UDP: TC flag and no answers, so the client retries on TCP
    garbage: bytes | None = None  # answer these bytes instead of a DNS message
    ttl: int = 300


@dataclass(frozen=True)
class Query:
    name: str  # lower case, no trailing dot
    type: str  # "A", "MX", ...
    transport: str  # "udp", "tcp", "tls" or "https"


class DnsServer:
    """An authoritative-style DNS server for tests; see the module docstring."""

    def __init__(
        self, zone: dict[str, Records | Name] | None = None, *, tls: ssl.SSLContext | None = None
    ):
        self.zone: dict[dns.name.Name, Name] = {}
        for owner, entry in (zone or {}).items():
            self.zone[dns.name.from_text(owner)] = entry if isinstance(entry, Name) else Name(entry)
        self.queries: list[Query] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._tcp, self._udp = _bind_pair(self)
        self._servers += [self._tcp, self._udp]
        self._tls: socketserver.TCPServer | None = None
        self._https: ThreadingHTTPServer | None = None
        if tls is not None:
            self._tls = _tcp_server(self, "tls", tls)
            self._https = _https_server(self, tls)
            self._servers += [self._tls, self._https]

    # -- addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._tcp.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def tls_address(self) -> str:
        assert self._tls is not None, "start the server with tls=... for DNS over TLS"
        return f"127.0.0.1:{self._tls.server_address[1]}"

    @property
    def https_port(self) -> int:
        assert self._https is not None, "start the server with tls=... for DNS over HTTPS"
        return int(self._https.server_address[1])

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}/dns-query"

    def transports(self, name: str) -> list[str]:
        """The transports queries for ``name`` arrived on, in order."""
        wanted = name.lower().rstrip(".")
        return [q.transport for q in self.queries if q.name == wanted]

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # -- answering ---------------------------------------------------------------------

    def reply(self, wire: bytes, transport: str) -> bytes | None:
        """The bytes to send back for one query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not DNS: nothing sensible to answer
        if len(query.question) != 1:
            return _with_rcode(query, dns.rcode.FORMERR).to_wire()
        question = query.question[0]
        with self._lock:
            self.queries.append(
                Query(
                    question.name.to_text(omit_final_dot=True).lower(),
                    dns.rdatatype.to_text(question.rdtype),
                    transport,
                )
            )
        entry = self.zone.get(question.name)
        if entry is not None and entry.delay and self.stopping.wait(entry.delay):
            return None  # stopped while sleeping: the test is over
        if entry is not None and entry.garbage is not None:
            return entry.garbage
        if entry is not None and entry.truncate_udp and transport == "udp":
            response = dns.message.make_response(query)
            response.flags |= dns.flags.TC
            return response.to_wire()
        return self._answer(query).to_wire()

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        question = query.question[0]
        entry = self.zone.get(question.name)
        if entry is None:
            return _with_rcode(query, dns.rcode.NXDOMAIN)
        if entry.rcode is not None:
            return _with_rcode(query, dns.rcode.from_text(entry.rcode))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        name, wanted = question.name, dns.rdatatype.to_text(question.rdtype)
        for _ in range(8):  # follow CNAMEs inside the zone, never forever
            current = self.zone.get(name)
            if current is None:
                break
            if wanted in current.records:
                response.answer.append(_rrset(name, wanted, current))
                break
            if "CNAME" not in current.records:
                break
            cname = _rrset(name, "CNAME", current)
            response.answer.append(cname)
            name = cname[0].target
        return response


def _rrset(name: dns.name.Name, rdtype: str, entry: Name) -> dns.rrset.RRset:
    values = entry.records[rdtype]
    return dns.rrset.from_text_list(
        name, entry.ttl, "IN", rdtype, values, origin=dns.name.root, relativize=False
    )


def _with_rcode(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response


# -- listeners -------------------------------------------------------------------------


class _UdpHandler(socketserver.BaseRequestHandler):
    server: Any

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.owner.reply(data, "udp")
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _StreamHandler(socketserver.BaseRequestHandler):
    """DNS over a stream: two-byte length prefix per message, several per connection."""

    server: Any

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(2)
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.do_handshake()
            while (size := _read_exact(sock, 2)) is not None:
                wire = _read_exact(sock, struct.unpack("!H", size)[0])
                if wire is None:
                    return
                reply = self.server.owner.reply(wire, self.server.transport)
                if reply is None:
                    return
                sock.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass  # a client that hangs up or fails the handshake is not the server's problem


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    buffer = b""
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return buffer


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port held by someone else must fail the bind

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _tcp_server(
    owner: DnsServer, transport: str, tls: ssl.SSLContext | None = None, port: int = 0
) -> _TcpServer:
    server = _TcpServer(("127.0.0.1", port), _StreamHandler)
    server.owner = owner  # type: ignore[attr-defined]
    server.transport = transport  # type: ignore[attr-defined]
    if tls is not None:
        # The handshake runs in the handler thread, so a stalled client blocks nobody.
        server.socket = tls.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    return server


def _bind_pair(owner: DnsServer) -> tuple[_TcpServer, _UdpServer]:
    """TCP and UDP on the same free port, as a real nameserver listens."""
    for _ in range(50):
        tcp = _tcp_server(owner, "tcp")
        try:
            udp = _UdpServer(("127.0.0.1", tcp.server_address[1]), _UdpHandler)
        except OSError:  # that UDP port is taken: try another TCP port
            tcp.server_close()
            continue
        udp.owner = owner  # type: ignore[attr-defined]
        return tcp, udp
    raise RuntimeError("no free port with both TCP and UDP available on 127.0.0.1")


class _DohHandler(BaseHTTPRequestHandler):
    """RFC 8484 POST: the body is a DNS message, so is the answer."""

    protocol_version = "HTTP/1.1"
    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        wire = self.rfile.read(length)
        if self.path != "/dns-query":
            self._send(404, b"not found", "text/plain")
            return
        reply = self.server.owner.reply(wire, "https")
        if reply is None:
            self._send(400, b"bad request", "text/plain")
            return
        self._send(200, reply, "application/dns-message")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _https_server(owner: DnsServer, tls: ssl.SSLContext) -> _HttpsServer:
    server = _HttpsServer(("127.0.0.1", 0), _DohHandler)
    server.owner = owner  # type: ignore[attr-defined]
    server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server
