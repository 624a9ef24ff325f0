"""STARTTLS: the few plain-text lines a mail server wants before the TLS handshake.

Only the upgrade itself is spoken (no login, no mail): greeting, the protocol's
"start TLS" command, and its positive answer. After :func:`negotiate` returns,
the caller upgrades the same stream with ``StreamWriter.start_tls``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

Protocol = Literal["smtp", "imap", "pop3"]

MAX_REPLY_LINES = 100  # a longer greeting or EHLO answer is not a mail server
_QUOTE_LIMIT = 80


class StartTlsError(Exception):
    """The server did not agree to start TLS; the message is for the operator."""


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


_NEGOTIATORS: dict[
    str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
] = {"smtp": _smtp, "imap": _imap, "pop3": _pop3}


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
