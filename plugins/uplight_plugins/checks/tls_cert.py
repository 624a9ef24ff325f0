"""Facts about one X.509 certificate, and the words for what is wrong with it.

The facts are read with ``cryptography`` from the DER bytes; kept apart from the
network code so they (and their JSON shape in ``details["cert"]``) can be tested
and reused without a handshake. ``cryptography`` is imported by the first
certificate read, not with this module: it is 8 MB of a process's memory, and a
server whose monitors never look at a certificate should not carry it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uplight import MetricTime

if TYPE_CHECKING:
    from cryptography import x509

SECONDS_PER_DAY = 86400.0

# OpenSSL's X509_V_ERR_* codes, as carried by SSLCertVerificationError.verify_code.
NOT_YET_VALID, EXPIRED = 9, 10
EXPIRY_CODES = frozenset({NOT_YET_VALID, EXPIRED})
MISMATCH_CODES = frozenset({62, 64})  # hostname, IP address
_VERIFY_REASONS = {
    2: "unknown issuer (unable to get issuer certificate)",
    NOT_YET_VALID: "certificate is not yet valid",
    EXPIRED: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in chain (untrusted root)",
    20: "unknown issuer (unable to get local issuer certificate)",
    21: "unknown issuer (unable to verify the first certificate)",
    23: "certificate revoked",
    24: "invalid CA certificate in chain",
    26: "certificate not valid for TLS servers",
    62: "hostname mismatch",
    64: "hostname mismatch",
}


@dataclass(frozen=True, slots=True)
class CertFacts:
    """What the operator wants to know about a server certificate."""

    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime  # aware, UTC
    subject: str
    issuer: str
    sans: tuple[str, ...]
    key_type: str
    key_size: int | None
    signature_algorithm: str
    serial: str
    self_signed: bool
    fingerprint_sha256: str

    def days_left(self, now: dt.datetime) -> float:
        """Fractional days until ``not_after``; negative once expired."""
        return (self.not_after - now).total_seconds() / SECONDS_PER_DAY

    def as_details(self, now: dt.datetime) -> dict[str, Any]:
        """The JSON shape of ``details["cert"]`` (metrics read not_after and days_left)."""
        return {
            "not_after": iso_z(self.not_after),
            "not_before": iso_z(self.not_before),
            "days_left": round(self.days_left(now), 4),
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "key_type": self.key_type,
            "key_size": self.key_size,
            "signature_algorithm": self.signature_algorithm,
            "serial": self.serial,
            "self_signed": self.self_signed,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


def parse_certificate(der: bytes) -> CertFacts:
    """Read the facts from a DER certificate; raises ``ValueError`` if it is not one."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    key_type, key_size = _key(cert)
    return CertFacts(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        key_type=key_type,
        key_size=key_size,
        signature_algorithm=_signature_algorithm(cert, key_type),
        serial=format(cert.serial_number, "x"),
        self_signed=_self_signed(cert),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
    )


def iso_z(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the one wire format for time."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    from cryptography import x509

    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    except ValueError:  # a malformed extension: the names are unknown, not absent
        return ()
    dns = names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    # The Edwards algorithms fix their own size; a number would only invite comparison with RSA.
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None
    return type(key).__name__, None


def _signature_algorithm(cert: x509.Certificate, key_type: str) -> str:
    from cryptography.exceptions import UnsupportedAlgorithm

    oid = cert.signature_algorithm_oid
    # ``_name`` holds the familiar OpenSSL name (sha256WithRSAEncryption); it is not
    # documented, so fall back to the hash and key names, then to the dotted OID.
    name = getattr(oid, "_name", None)
    if isinstance(name, str) and name and name != "Unknown OID":
        return name
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        digest = None
    return f"{digest.name}-with-{key_type}" if digest else oid.dotted_string


def _self_signed(cert: x509.Certificate) -> bool:
    # Same name is not enough (a CA may reissue under its own name with a new key):
    # the certificate must also verify with its own public key.
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def verify_reason(error: ssl.SSLCertVerificationError) -> str:
    """A short name for why OpenSSL refused the certificate."""
    reason = _VERIFY_REASONS.get(getattr(error, "verify_code", None) or -1)
    if reason is not None:
        return reason
    message = getattr(error, "verify_message", None) or error.reason or "unknown reason"
    return f"certificate verify failed: {message}"


def mismatch_message(name: str, facts: CertFacts | None) -> str:
    if facts is None:
        return f"hostname mismatch: certificate is not for {name}"
    if not facts.sans:
        return f"hostname mismatch: certificate names no hosts (no subjectAltName), not {name}"
    return f"hostname mismatch: certificate is for {', '.join(facts.sans)}, not {name}"


def expiry_problem(facts: CertFacts, now: dt.datetime) -> str | None:
    """Why the certificate is not valid at ``now``, with its dates; None if it is."""
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


# -- /metrics: any check type's details["cert"], so every value is untrusted ---


def reported_not_after(cert: Any, time: MetricTime) -> float | None:
    """``cert.not_after`` as unix seconds."""
    return _timestamp(cert.get("not_after")) if isinstance(cert, Mapping) else None


def reported_days_left(cert: Any, time: MetricTime) -> float | None:
    """Days left as of the scrape: from ``not_after``, else ``days_left`` aged since reported."""
    if not isinstance(cert, Mapping):
        return None
    not_after = _timestamp(cert.get("not_after"))
    if not_after is not None:
        return (not_after - time.now) / SECONDS_PER_DAY
    days = cert.get("days_left")
    if isinstance(days, bool) or not isinstance(days, int | float):
        return None
    try:
        days = float(days)
    except OverflowError:
        return None
    if not math.isfinite(days):
        return None
    return days - (time.now - time.observed_at) / SECONDS_PER_DAY


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)  # uplight's wire times are UTC
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
