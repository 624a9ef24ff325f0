"""The connection a tls check inspects: TCP connect, STARTTLS if asked, TLS upgrade.

STARTTLS speaks only the upgrade itself (no login, no mail): the greeting, the
protocol's "start TLS" command and its positive answer. Direct TLS and STARTTLS
then share one path: the plain connection is upgraded in place with
``loop.start_tls``, and :func:`probe` reports what the handshake told us.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["smtp", "imap", "pop3"]

MAX_REPLY_LINES = 100  # a longer greeting or EHLO answer is not a mail server
CLOSE_GRACE = 0.25  # seconds to wait for the server's close_notify before hanging up
_QUOTE_LIMIT = 80


class StartTlsError(Exception):
    """The server did not agree to start TLS; the message is for the operator."""


@dataclass
class Progress:
    """Where a probe got to: the phase a failure or timeout is blamed on, and timings."""

    phase: str = "connect"
    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def enter(self, phase: str, key: str) -> None:
        """Finish the current phase, recording its duration as ``key``."""
        now = time.perf_counter()
        self.phases[key] = round(now - self.started, 6)
        self.phase, self.started = phase, now

    def elapsed(self) -> float:
        return sum(self.phases.values()) + (time.perf_counter() - self.started)


@dataclass(frozen=True, slots=True)
class Handshake:
    """What one completed handshake told us."""

    der: bytes | None
    chain_length: int | None
    tls_version: str | None
    cipher: str | None


async def probe(
    host: str,
    port: int,
    *,
    server_name: str,
    starttls: Protocol | None,
    trust: ssl.SSLContext,
    deadline: float,
    progress: Progress,
) -> Handshake:
    """Connect, STARTTLS if asked, handshake by ``deadline`` (loop time); always hang up.

    Raises what went wrong (OSError, ssl.SSLError, StartTlsError, TimeoutError, EOFError);
    ``progress.phase`` says when.
    """
    writer: asyncio.StreamWriter | None = None
    tls: asyncio.Transport | None = None
    quiet = _Quiet()
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(host, port)
            if starttls:
                progress.enter("STARTTLS", "connect")
                await negotiate(starttls, reader, writer)
                progress.enter("TLS handshake", "starttls")
            else:
                progress.enter("TLS handshake", "connect")
            tls = await asyncio.get_running_loop().start_tls(
                writer.transport, quiet, trust, server_hostname=server_name
            )
            progress.enter("done", "tls")
            return _read_handshake(tls)
    finally:
        await _hang_up(writer, tls, quiet)


class _Quiet(asyncio.Protocol):
    """The protocol under the TLS transport: it reads nothing and notes the close.

    Not a StreamReaderProtocol: after an upgrade, Python 3.11 makes that one log a
    warning each time a server's close_notify arrives, i.e. on every check.
    """

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _read_handshake(transport: asyncio.Transport) -> Handshake:
    tls: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if tls is None:
        return Handshake(None, None, None, None)
    cipher = tls.cipher()
    return Handshake(
        der=tls.getpeercert(binary_form=True),
        chain_length=_chain_length(tls),
        tls_version=tls.version(),
        cipher=cipher[0] if cipher else None,
    )


def _chain_length(tls: ssl.SSLObject) -> int | None:
    """How many certificates the server sent (leaf included); None when unknowable.

    ``get_unverified_chain`` is public from Python 3.13; 3.10 to 3.12 have it only on the
    private ``_sslobj``. Either may be missing, so this reports None rather than guess.
    """
    for owner in (tls, getattr(tls, "_sslobj", None)):
        method = getattr(owner, "get_unverified_chain", None)
        if callable(method):
            try:
                chain = method()
            except (ssl.SSLError, ValueError, AttributeError):
                return None
            return len(chain) if chain is not None else None
    return None


async def _hang_up(
    writer: asyncio.StreamWriter | None, tls: asyncio.Transport | None, quiet: _Quiet
) -> None:
    # After a handshake, a polite close sends close_notify and waits briefly for the
    # server's; a server that never answers (or a failed probe) gets the line dropped.
    try:
        if tls is not None:
            tls.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_GRACE):
                    await asyncio.shield(quiet.closed)
    finally:
        if writer is not None:
            writer.transport.abort()


async def negotiate(
    protocol: Protocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Speak ``protocol`` up to the point where the TLS handshake must start."""
    await _NEGOTIATORS[protocol](reader, writer)


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    code, lines = await _smtp_reply(reader)
    if code != "220":
        raise StartTlsError(f"unexpected SMTP greeting {_quote(lines[-1])}")
    await _send(writer, f"EHLO {_address_literal(writer)}")
    code, lines = await _smtp_reply(reader)
    if code != "250":
        raise StartTlsError(f"EHLO refused: {_quote(lines[-1])}")
    # Each EHLO line after the first names one extension: "250-STARTTLS".
    if not any(line[4:].strip().upper() == "STARTTLS" for line in lines[1:]):
        raise StartTlsError("server does not offer STARTTLS")
    await _send(writer, "STARTTLS")
    code, lines = await _smtp_reply(reader)
    if code != "220":
        raise StartTlsError(f"STARTTLS refused: {_quote(lines[-1])}")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader)
    # PREAUTH is not accepted: RFC 3501 allows STARTTLS only before authentication.
    if not greeting.upper().startswith("* OK"):
        raise StartTlsError(f"unexpected IMAP greeting {_quote(greeting)}")
    await _send(writer, "a1 STARTTLS")
    for _ in range(MAX_REPLY_LINES):
        line = await _line(reader)
        if line.startswith("a1 "):  # untagged lines ("* CAPABILITY ...") come first
            if line[3:].upper().startswith("OK"):
                return
            raise StartTlsError(f"STARTTLS refused: {_quote(line)}")
    raise StartTlsError("no answer to STARTTLS")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader)
    if not greeting.startswith("+OK"):
        raise StartTlsError(f"unexpected POP3 greeting {_quote(greeting)}")
    await _send(writer, "STLS")
    answer = await _line(reader)
    if not answer.startswith("+OK"):
        raise StartTlsError(f"STLS refused: {_quote(answer)}")


_NEGOTIATORS: dict[str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
}


async def _smtp_reply(reader: asyncio.StreamReader) -> tuple[str, list[str]]:
    """One SMTP reply: lines "250-..." continue it, the line "250 ..." ends it."""
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        line = await _line(reader)
        lines.append(line)
        if line[3:4] != "-":
            return line[:3], lines
    raise StartTlsError(f"SMTP reply longer than {MAX_REPLY_LINES} lines")


async def _line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readline()
    except ValueError:  # the stream's line limit (64 KiB): not a mail server
        raise StartTlsError("server sent an overlong line") from None
    if not raw.endswith(b"\n"):
        raise StartTlsError("connection closed by server")
    return raw.decode("latin-1").rstrip("\r\n")


async def _send(writer: asyncio.StreamWriter, line: str) -> None:
    writer.write(line.encode("ascii") + b"\r\n")
    await writer.drain()


def _address_literal(writer: asyncio.StreamWriter) -> str:
    # RFC 5321 wants our FQDN or an address literal; the local address needs no DNS.
    sockname = writer.get_extra_info("sockname")
    address = sockname[0] if isinstance(sockname, tuple) and sockname else "127.0.0.1"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _quote(text: str) -> str:
    short = text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"
    return repr(short)
