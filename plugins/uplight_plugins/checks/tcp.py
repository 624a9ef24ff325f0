"""The ``tcp`` check: connect to a port, optionally over TLS, optionally send and expect.

A connection is one attempt per resolved address, in the resolver's order, each with
what is left of the monitor's timeout. With ``tls = true`` the handshake runs on the
connected socket, so connect and handshake are timed apart. With ``expect`` or
``expect_regex``, the first bytes the server sends (at most 64 KiB) are read until
they match, the server hangs up, or the time is up. Failures become ``down`` results
with a short message; ``check`` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import socket
import ssl
import time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from uplight import (
    CAFile,
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    Duration,
    client_ssl_context,
    hookimpl,
)

from .excerpt import excerpt, printable
from .tls import HostName
from .tls_cert import parse_certificate, verify_reason

READ_LIMIT = 64 * 1024  # the first bytes judged by expect/expect_regex
_CHUNK = 4096
# Phase names become label values on /metrics, so only these words are exported.
METRIC_PHASES = ("connect", "tls", "response")


def _compile_regex(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


class TcpOptions(CheckOptions):
    host: HostName
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    server_name: HostName | None = None
    verify: bool = True
    ca_file: CAFile | None = None
    send: Annotated[str, Field(min_length=1)] | None = None
    expect: Annotated[str, Field(min_length=1)] | None = None
    expect_regex: Annotated[re.Pattern[str], BeforeValidator(_compile_regex)] | None = None
    response_time_degraded: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TcpOptions:
        if not self.tls:
            given = [k for k in ("server_name", "ca_file") if getattr(self, k) is not None]
            given += [] if self.verify else ["verify"]
            if given:
                verb = "needs" if len(given) == 1 else "need"
                raise ValueError(f"{' and '.join(given)} {verb} tls = true")
        if not self.verify and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify = false: remove one of them")
        if self.expect is not None and self.expect_regex is not None:
            raise ValueError("give expect or expect_regex, not both")
        return self

    @property
    def name(self) -> str:
        """The name sent as SNI (unless an IP) and verified against the certificate."""
        return self.server_name or self.host


class TcpCheck(CheckType):
    name = "tcp"
    Options = TcpOptions
    description = "TCP connect (optionally TLS), with an optional request and expected answer"
    metrics = (
        CheckMetric(
            "uplight_tcp_phase_duration_seconds",
            "Duration of each phase of the last TCP check.",
            key="phases",
            labels={"phase": METRIC_PHASES},
        ),
    )

    async def check(self, options: TcpOptions, context: CheckContext) -> CheckResult:
        try:
            return await _check(options, context.timeout)
        except Exception as exc:  # a bug here must cost one check, not a traceback
            return CheckResult.down(f"TCP check failed: {type(exc).__name__}: {exc}")

    def public_summary(self, options: TcpOptions) -> dict[str, Any]:
        return {"host": options.host, "port": options.port, "tls": options.tls}


class _Run:
    """Where a check got to: the phase a failure is blamed on, timings, bytes seen."""

    def __init__(self) -> None:
        self.phase = "connect"
        self.phases: dict[str, float] = {}
        self.began = self.started = time.perf_counter()
        self.received = b""

    def finish(self, key: str, next_phase: str) -> None:
        now = time.perf_counter()
        self.phases[key] = round(now - self.started, 6)
        self.phase, self.started = next_phase, now

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.began, 6)


async def _check(options: TcpOptions, timeout: float) -> CheckResult:
    trust: ssl.SSLContext | None = None
    if options.tls:
        try:
            trust = client_ssl_context(verify=options.verify, ca_file=options.ca_file)
        except (ssl.SSLError, OSError) as exc:  # the CA file changed since the config loaded
            return CheckResult.down(f"cannot load ca_file {options.ca_file}: {exc}")
    run = _Run()
    target = _target(options)
    sock: socket.socket | None = None
    writer: asyncio.StreamWriter | None = None
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            sock = await _connect(options.host, options.port)
            run.finish("connect", "TLS handshake" if trust else "response")
            reader, writer = await asyncio.open_connection(
                sock=sock,
                ssl=trust,
                server_hostname=options.name if trust else None,
                limit=READ_LIMIT,
            )
            if trust is not None:
                details = _tls_details(writer)
                run.finish("tls", "response")
            if options.send is not None:
                writer.write(options.send.encode())
                await writer.drain()
            if options.expect is not None or options.expect_regex is not None:
                await _read_until_match(reader, options, run)
                run.finish("response", "done")
    except TimeoutError:
        return _down(_timeout_message(timeout, options, run), run, details)
    except _Unexpected as exc:
        return _down(str(exc), run, details)
    except ssl.SSLCertVerificationError as exc:
        return _down(f"TLS handshake failed: {verify_reason(exc)}", run, details)
    except (OSError, EOFError) as exc:
        return _down(_describe(exc, run.phase, options, target), run, details)
    finally:
        if writer is not None:
            writer.transport.abort()  # a check has nothing more to say: no lingering close
        elif sock is not None:
            sock.close()
    return _judge(options, run, details)


class _Unexpected(Exception):
    """The server answered, but not what ``expect``/``expect_regex`` asks for."""


async def _connect(host: str, port: int) -> socket.socket:
    """A connected non-blocking socket: each resolved address in turn, first success wins."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = error or exc  # the first address's reason is the one to report
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error or OSError(f"no address for {host}")


async def _read_until_match(reader: asyncio.StreamReader, options: TcpOptions, run: _Run) -> None:
    buffer = bytearray()
    while len(buffer) < READ_LIMIT:
        chunk = await reader.read(min(_CHUNK, READ_LIMIT - len(buffer)))
        if not chunk:
            run.received = bytes(buffer)
            raise _Unexpected(_mismatch(options, bytes(buffer), closed=True))
        buffer += chunk
        run.received = bytes(buffer)
        if _matches(options, _text(run.received)):
            return
    raise _Unexpected(_mismatch(options, bytes(buffer), closed=False))


def _matches(options: TcpOptions, text: str) -> bool:
    if options.expect is not None:
        return options.expect in text
    assert options.expect_regex is not None
    return options.expect_regex.search(text) is not None


def _wanted(options: TcpOptions) -> str:
    if options.expect is not None:
        return excerpt(options.expect, 40)
    assert options.expect_regex is not None
    return f"regex {excerpt(options.expect_regex.pattern, 40)}"


def _mismatch(options: TcpOptions, received: bytes, *, closed: bool) -> str:
    if not received:
        return (
            f"server closed the connection without sending anything (expected {_wanted(options)})"
        )
    how = (
        "before the server closed the connection" if closed else f"in the first {READ_LIMIT} bytes"
    )
    return f"unexpected answer: {_wanted(options)} not found {how}; got {excerpt(_text(received))}"


def _timeout_message(timeout: float, options: TcpOptions, run: _Run) -> str:
    message = f"timed out after {timeout:g}s"
    if run.phase != "response":
        return f"{message} ({run.phase})"
    if options.expect is None and options.expect_regex is None:
        return f"{message} (sending)"
    got = f"; got {excerpt(_text(run.received))}" if run.received else "; nothing received"
    return f"{message} waiting for {_wanted(options)}{got}"


def _describe(exc: BaseException, phase: str, options: TcpOptions, target: str) -> str:
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed for {options.host}: {exc.strerror}"
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc) or "handshake failed").lower().replace("_", " ")
        if exc.reason == "WRONG_VERSION_NUMBER":
            reason += " (the server did not answer in TLS: wrong port, or is tls = true wrong?)"
        return f"TLS handshake failed: {reason}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {target}"
    where = {"TLS handshake": " during the TLS handshake", "response": ""}.get(phase, "")
    if isinstance(exc, ConnectionResetError):
        return f"connection reset by {target}{where}"
    if isinstance(exc, BrokenPipeError | EOFError | ConnectionAbortedError):
        return f"connection closed by {target}{where}"
    if isinstance(exc, OSError) and exc.errno:
        return f"connection to {target} failed: {os.strerror(exc.errno).lower()}"
    return f"connection to {target} failed: {type(exc).__name__}: {exc}"


def _tls_details(writer: asyncio.StreamWriter) -> dict[str, Any]:
    tls: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    if tls is None:
        return {}
    cipher = tls.cipher()
    details: dict[str, Any] = {
        "tls_version": tls.version(),
        "cipher": cipher[0] if cipher else None,
    }
    der = tls.getpeercert(binary_form=True)
    if der:
        with contextlib.suppress(ValueError):  # facts are a bonus
            # Under "cert", as the tls check reports it: the expiry gauges read it too.
            details["cert"] = parse_certificate(der).as_details(dt.datetime.now(dt.UTC))
    return details


def _judge(options: TcpOptions, run: _Run, details: dict[str, Any]) -> CheckResult:
    latency = run.elapsed()
    details = {**details, "phases": run.phases}
    if options.expect is not None or options.expect_regex is not None:
        details["bytes_received"] = len(run.received)
        details["received"] = printable(_text(run.received), 200)
    expecting = options.expect is not None or options.expect_regex is not None
    verb = "matched" if options.expect_regex is not None else "received"
    what = f"{_wanted(options)} {verb}" if expecting else "connected"
    if details.get("tls_version"):
        what += f" over {details['tls_version']}"
    threshold = options.response_time_degraded
    if threshold is not None and latency > threshold:
        message = f"{what} in {latency:.3f}s (threshold {threshold:g}s)"
        return CheckResult.degraded(message, latency, **details)
    return CheckResult.up(f"{what} in {latency:.3f}s", latency, **details)


def _target(options: TcpOptions) -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"{host}:{options.port}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _down(message: str, run: _Run, details: dict[str, Any]) -> CheckResult:
    extra: dict[str, Any] = {**details}
    if run.phases:
        extra["phases"] = run.phases
    if run.received:
        extra["bytes_received"] = len(run.received)
        extra["received"] = printable(_text(run.received), 200)
    return CheckResult.down(message, **extra)


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(TcpCheck)
