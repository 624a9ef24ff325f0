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
import ipaddress
import math
import os
import re
import socket
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from uplight import (
    CAFile,
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    client_ssl_context,
    hookimpl,
)

from .starttls import Handshake, Progress, StartTlsError, probe
from .tls_cert import (
    EXPIRY_CODES,
    MISMATCH_CODES,
    CertFacts,
    expiry_problem,
    mismatch_message,
    parse_certificate,
    reported_days_left,
    reported_not_after,
    verify_reason,
)

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
    ca_file: CAFile | None = None
    starttls: Annotated[Literal["smtp", "imap", "pop3"], BeforeValidator(_lower)] | None = None

    @field_validator("critical_days")
    @classmethod
    def _not_after_warning(cls, value: int, info: ValidationInfo) -> int:
        warn = info.data.get("warn_days")
        # Equal is allowed: no degraded stage, straight to down.
        if isinstance(warn, int) and value > warn:
            raise ValueError(f"critical_days ({value}) must not be more than warn_days ({warn})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TlsOptions:
        if not self.verify and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify = false: remove one of them")
        return self

    @property
    def name(self) -> str:
        """The name sent as SNI (unless an IP) and verified against the certificate."""
        return self.server_name or self.host


class TlsCheck(CheckType):
    name = "tls"
    Options = TlsOptions
    description = "TLS handshake: certificate chain, hostname and days until expiry"
    # Read from every check type that reports details["cert"]. A failed handshake
    # reports none: the last certificate seen stays, so expiry alerts do not reset.
    metrics = (
        CheckMetric(
            "uplight_tls_cert_not_after_timestamp_seconds",
            "Unix time the latest certificate expires.",
            key="cert",
            read=reported_not_after,
            keep_last_known=True,
            all_check_types=True,
        ),
        CheckMetric(
            "uplight_tls_cert_days_left",
            "Days until the latest certificate expires, as of the scrape.",
            key="cert",
            read=reported_days_left,
            keep_last_known=True,
            all_check_types=True,
        ),
    )

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
    progress = Progress()
    try:
        shake = await _probe(options, trust, deadline, progress)
    except ssl.SSLCertVerificationError as exc:
        return await _verify_failed(options, exc, deadline, progress)
    except TimeoutError:
        return _down(f"timed out after {timeout:g}s ({progress.phase})", progress)
    except (OSError, EOFError, StartTlsError) as exc:
        return _down(_describe(exc, progress.phase, options), progress)
    latency = sum(progress.phases.values())  # connect + STARTTLS + handshake
    return _judge(options, shake, verified=options.verify, latency=latency, progress=progress)


async def _verify_failed(
    options: TlsOptions,
    error: ssl.SSLCertVerificationError,
    deadline: float,
    progress: Progress,
) -> CheckResult:
    """Name the failure, and fetch the certificate unverified to report its facts."""
    latency = round(progress.elapsed(), 6)
    reason = verify_reason(error)
    shake: Handshake | None = None
    with contextlib.suppress(OSError, EOFError, StartTlsError):  # facts are a bonus
        shake = await _probe(options, _client_context(False, None), deadline, Progress())
    facts = _facts(shake)
    details = _details(options, shake, facts, verified=False)
    details["verify_error"] = reason
    details["phases"] = progress.phases  # of the verified attempt, the one that counts
    code = getattr(error, "verify_code", None)
    if facts is not None and code in EXPIRY_CODES:
        # The dated message says more than OpenSSL's "certificate has expired".
        reason = expiry_problem(facts, _now()) or reason
    elif code in MISMATCH_CODES:
        reason = mismatch_message(options.name, facts)
    return CheckResult.down(reason, latency, **details)


async def _probe(
    options: TlsOptions, trust: ssl.SSLContext, deadline: float, progress: Progress
) -> Handshake:
    return await probe(
        options.host,
        options.port,
        server_name=options.name,
        starttls=options.starttls,
        trust=trust,
        deadline=deadline,
        progress=progress,
    )


def _judge(
    options: TlsOptions,
    shake: Handshake,
    *,
    verified: bool,
    latency: float,
    progress: Progress,
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
    failure = expiry_problem(facts, now)
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


def _facts(shake: Handshake | None) -> CertFacts | None:
    if shake is None or shake.der is None:
        return None
    try:
        return parse_certificate(shake.der)
    except ValueError:  # OpenSSL accepted what cryptography cannot read: report without facts
        return None


def _details(
    options: TlsOptions, shake: Handshake | None, facts: CertFacts | None, *, verified: bool
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
    if not exc.reason:
        return str(exc) or type(exc).__name__
    reason = exc.reason.lower().replace("_", " ")
    if exc.reason == "WRONG_VERSION_NUMBER":  # OpenSSL's words for "that was not TLS"
        reason += " (the server did not answer in TLS: wrong port, or does it need starttls?)"
    return reason


def _down(message: str, progress: Progress) -> CheckResult:
    details: dict[str, Any] = {"phases": progress.phases} if progress.phases else {}
    return CheckResult.down(message, **details)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _client_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    return client_ssl_context(verify=verify, ca_file=ca_file)


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(TlsCheck)
