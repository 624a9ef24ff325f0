"""Facts about one X.509 certificate, read with ``cryptography`` from its DER bytes.

Kept apart from the network code so the facts (and their JSON shape in
``details["cert"]``) can be tested and reused without a handshake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

SECONDS_PER_DAY = 86400.0


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
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True
