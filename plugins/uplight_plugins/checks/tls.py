"""The ``tls`` check: a TLS handshake judged on certificate validity and days left.

One connection with full verification (chain and hostname, against the system
store or ``ca_file``). When verification fails, a second connection without
verification fetches the certificate anyway, so an expired or self-signed
certificate is still reported with its dates and names. Failures become ``down``
results with a short message; ``check`` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import math
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from uplight import CheckContext, CheckOptions, CheckResult, CheckType, hookimpl

from .starttls import StartTlsError, negotiate
from .tls_cert import CertFacts, iso_z, parse_certificate

CLOSE_GRACE = 0.25  # seconds to wait for the server's close_notify before hanging up
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _host_name(value: str) -> str:
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(text))
    if "/" in text:
        raise ValueError("must be a hostname or IP address, not a URL")
    if ":" in text:
        raise ValueError("must be a hostname or IP address without a port (use the port key)")
    try:
        ascii_name = text.encode("idna").decode("ascii")  # internationalised names → xn--
    except UnicodeError:
        ascii_name = ""
    name = ascii_name.removesuffix(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise ValueError(f"{value!r} is not a valid hostname or IP address")
    return ascii_name


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


HostName = Annotated[str, AfterValidator(_host_name)]


class TlsOptions(CheckOptions):
    host: HostName
    port: int = Field(443, ge=1, le=65535)
    server_name: HostName | None = None
    warn_days: int = Field(14, ge=0)
    critical_days: int = Field(3, ge=0)
    verify: bool = True
    ca_file: Path | None = None
    starttls: Annotated[Literal["smtp", "imap", "pop3"], BeforeValidator(_lower)] | None = None

    @field_validator("ca_file")
    @classmethod
    def _readable_ca(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise ValueError(f"file not found: {value}")
        try:
            ssl.create_default_context(cafile=str(value))
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load {value} as a PEM CA bundle: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TlsOptions:
        if self.critical_days >= self.warn_days:
            raise ValueError("critical_days must be less than warn_days")
        if not self.verify and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify = false: remove one of them")
        return self

    @property
    def name(self) -> str:
        """The name sent as SNI (unless an IP) and verified against the certificate."""
        return self.server_name or self.host


@dataclass
class _Progress:
    """Where a probe got to: the phase a failure or timeout is blamed on, and timings."""

    phase: str = "connect"
    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def enter(self, phase: str, key: str) -> None:
        now = time.perf_counter()
        self.phases[key] = round(now - self.started, 6)
        self.phase, self.started = phase, now


@dataclass(frozen=True, slots=True)
class _Handshake:
    """What one completed handshake told us."""

    der: bytes | None
    chain_length: int | None
    tls_version: str | None
    cipher: str | None


class TlsCheck(CheckType):
    name = "tls"
    Options = TlsOptions
    description = "TLS handshake: certificate chain, hostname and days until expiry"

    async def check(self, options: TlsOptions, context: CheckContext) -> CheckResult:
        try:
            return await _check(options, context.timeout)
        except Exception as exc:  # a bug here must cost one check, not a traceback
            return CheckResult.down(f"TLS check failed: {type(exc).__name__}: {exc}")

    def public_summary(self, options: TlsOptions) -> dict[str, Any]:
        summary: dict[str, Any] = {"host": options.host, "port": options.port}
        if options.server_name:
            summary["server_name"] = options.server_name
        if options.starttls:
            summary["starttls"] = options.starttls
        return summary


async def _check(options: TlsOptions, timeout: float) -> CheckResult:
    try:
        trust = _client_context(options.verify, options.ca_file)
    except (ssl.SSLError, OSError) as exc:  # the CA file changed since the config loaded
        return CheckResult.down(f"cannot load ca_file {options.ca_file}: {exc}")
    deadline = asyncio.get_running_loop().time() + timeout
    progress = _Progress()
    try:
        shake = await _probe(options, trust, deadline, progress)
    except ssl.SSLCertVerificationError as exc:
        return await _verify_failed(options, exc, deadline, progress)
    except TimeoutError:
        return _down(f"timed out after {timeout:g}s ({progress.phase})", progress)
    except (OSError, EOFError, StartTlsError) as exc:
        return _down(_describe(exc, progress.phase, options), progress)
    latency = sum(progress.phases.values())
    return _judge(options, shake, verified=options.verify, latency=latency, progress=progress)


async def _probe(
    options: TlsOptions, trust: ssl.SSLContext, deadline: float, progress: _Progress
) -> _Handshake:
    """Connect, STARTTLS if asked, handshake; always hang up before returning."""
    writer: asyncio.StreamWriter | None = None
    completed = False
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(options.host, options.port)
            if options.starttls:
                progress.enter("STARTTLS", "connect")
                await negotiate(options.starttls, reader, writer)
                progress.enter("TLS handshake", "starttls")
            else:
                progress.enter("TLS handshake", "connect")
            await writer.start_tls(trust, server_hostname=options.name)
            progress.enter("done", "tls")
            completed = True
            return _read_handshake(writer)
    finally:
        if writer is not None:
            await _hang_up(writer, graceful=completed)


def _read_handshake(writer: asyncio.StreamWriter) -> _Handshake:
    tls: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    if tls is None:
        return _Handshake(None, None, None, None)
    cipher = tls.cipher()
    return _Handshake(
        der=tls.getpeercert(binary_form=True),
        chain_length=_chain_length(tls),
        tls_version=tls.version(),
        cipher=cipher[0] if cipher else None,
    )


def _chain_length(tls: ssl.SSLObject) -> int | None:
    """How many certificates the server sent (leaf included); None when unknowable.

    ``get_unverified_chain`` is public from Python 3.13; 3.10–3.12 have it only on the
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


async def _hang_up(writer: asyncio.StreamWriter, *, graceful: bool) -> None:
    # A polite close sends close_notify and waits briefly for the server's; a server
    # that never answers (or a probe that already failed) gets the line dropped.
    writer.close()
    if graceful:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_GRACE):
                await writer.wait_closed()
    writer.transport.abort()


async def _verify_failed(
    options: TlsOptions,
    error: ssl.SSLCertVerificationError,
    deadline: float,
    progress: _Progress,
) -> CheckResult:
    """Name the failure, and fetch the certificate unverified to report its facts."""
    latency = sum(progress.phases.values()) + (time.perf_counter() - progress.started)
    reason = _verify_reason(error)
    shake: _Handshake | None = None
    with contextlib.suppress(OSError, EOFError, StartTlsError):  # facts are a bonus
        shake = await _probe(options, _client_context(False, None), deadline, _Progress())
    facts = _facts(shake)
    details = _details(options, shake, facts, verified=False)
    details["verify_error"] = reason
    code = getattr(error, "verify_code", None)
    if facts is not None and code in (_CERT_HAS_EXPIRED, _CERT_NOT_YET_VALID):
        expiry = _expiry_failure(facts, _now())
        if expiry is not None:  # the dated message says more than OpenSSL's
            reason = expiry
    elif code in (_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH):
        reason = _mismatch(options.name, facts)
    return CheckResult.down(reason, round(latency, 6), **details)


# OpenSSL's X509_V_ERR_* codes, as carried by SSLCertVerificationError.verify_code.
_UNABLE_TO_GET_ISSUER_CERT = 2
_CERT_NOT_YET_VALID = 9
_CERT_HAS_EXPIRED = 10
_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_SELF_SIGNED_CERT_IN_CHAIN = 19
_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_CERT_REVOKED = 23
_INVALID_CA = 24
_INVALID_PURPOSE = 26
_HOSTNAME_MISMATCH = 62
_IP_ADDRESS_MISMATCH = 64
_VERIFY_REASONS = {
    _UNABLE_TO_GET_ISSUER_CERT: "unknown issuer (unable to get issuer certificate)",
    _CERT_NOT_YET_VALID: "certificate is not yet valid",
    _CERT_HAS_EXPIRED: "certificate has expired",
    _DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
    _SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in chain (untrusted root)",
    _UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown issuer (unable to get local issuer certificate)",
    _UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown issuer (unable to verify the first certificate)",
    _CERT_REVOKED: "certificate revoked",
    _INVALID_CA: "invalid CA certificate in chain",
    _INVALID_PURPOSE: "certificate not valid for TLS servers",
    _HOSTNAME_MISMATCH: "hostname mismatch",
    _IP_ADDRESS_MISMATCH: "hostname mismatch",
}


def _verify_reason(error: ssl.SSLCertVerificationError) -> str:
    reason = _VERIFY_REASONS.get(getattr(error, "verify_code", None) or -1)
    if reason is not None:
        return reason
    message = getattr(error, "verify_message", None) or error.reason or "unknown reason"
    return f"certificate verify failed: {message}"


def _mismatch(name: str, facts: CertFacts | None) -> str:
    if facts is None:
        return f"hostname mismatch: certificate is not for {name}"
    if not facts.sans:
        return f"hostname mismatch: certificate names no hosts (no subjectAltName), not {name}"
    return f"hostname mismatch: certificate is for {', '.join(facts.sans)}, not {name}"


def _judge(
    options: TlsOptions,
    shake: _Handshake,
    *,
    verified: bool,
    latency: float,
    progress: _Progress,
) -> CheckResult:
    facts = _facts(shake)
    details = _details(options, shake, facts, verified=verified)
    details["phases"] = progress.phases
    latency = round(latency, 6)
    if shake.der is None:
        return CheckResult.down("server sent no certificate", latency, **details)
    if facts is None:
        return CheckResult.down("could not parse the server certificate", latency, **details)
    now = _now()
    failure = _expiry_failure(facts, now)
    if failure is not None:
        return CheckResult.down(failure, latency, **details)
    days = facts.days_left(now)
    if days < options.critical_days:
        return CheckResult.down(f"certificate expires in {days:.1f} days", latency, **details)
    if days < options.warn_days:
        return CheckResult.degraded(f"certificate expires in {days:.1f} days", latency, **details)
    whole = math.floor(days)
    message = (
        f"certificate valid for {whole} more day{'' if whole == 1 else 's'} "
        f"(expires {facts.not_after.date().isoformat()})"
    )
    return CheckResult.up(message, latency, **details)


def _expiry_failure(facts: CertFacts, now: dt.datetime) -> str | None:
    if now < facts.not_before:
        return f"certificate is not yet valid (not_before {iso_z(facts.not_before)})"
    if now >= facts.not_after:
        ago = _span((now - facts.not_after).total_seconds())
        return f"certificate expired {ago} ago (not_after {iso_z(facts.not_after)})"
    return None


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def _facts(shake: _Handshake | None) -> CertFacts | None:
    if shake is None or shake.der is None:
        return None
    try:
        return parse_certificate(shake.der)
    except ValueError:  # OpenSSL accepted what cryptography cannot read: report without facts
        return None


def _details(
    options: TlsOptions, shake: _Handshake | None, facts: CertFacts | None, *, verified: bool
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "chain_length": shake.chain_length if shake else None,
        "tls_version": shake.tls_version if shake else None,
        "cipher": shake.cipher if shake else None,
        "server_name": options.name,
        "verified": verified,
    }
    if facts is not None:
        details = {"cert": facts.as_details(_now()), **details}
    return details


def _describe(exc: BaseException, phase: str, options: TlsOptions) -> str:
    if isinstance(exc, StartTlsError):
        return f"STARTTLS failed: {exc}"
    if phase in ("STARTTLS", "TLS handshake"):
        # Once connected, a dropped line means the server hung up on what we said.
        if isinstance(exc, ssl.SSLError):
            return f"{phase} failed: {_ssl_reason(exc)}"
        if isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
            return f"{phase} failed: connection closed by server"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed for {options.host}: {exc.strerror}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.errno:
        return f"connection failed: {os.strerror(exc.errno).lower()}"
    return f"{phase} failed: {type(exc).__name__}: {exc}"


def _ssl_reason(exc: ssl.SSLError) -> str:
    if exc.reason:
        return exc.reason.lower().replace("_", " ")
    return str(exc) or type(exc).__name__


def _down(message: str, progress: _Progress) -> CheckResult:
    details: dict[str, Any] = {"phases": progress.phases} if progress.phases else {}
    return CheckResult.down(message, **details)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def _shared_context(verify: bool) -> ssl.SSLContext:
    # Loading the system store costs tens of milliseconds; contexts are safe to share.
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    # The same trust as the http check, so one site never passes one and fails the other.
    with contextlib.suppress(ImportError):
        import certifi

        context.load_verify_locations(certifi.where())
    return context


def _client_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    if verify and ca_file is not None:
        # Built per check so a rotated CA file is picked up without a restart.
        return ssl.create_default_context(cafile=str(ca_file))
    return _shared_context(verify)


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(TlsCheck)
