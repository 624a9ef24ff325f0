"""The ``http`` check's certificate facts: days left, and ``cert_warn_days``.

The certificate is read from the response's TLS connection (httpcore's
``network_stream``) while the response is open, as DER, and parsed like the ``tls``
check does, so ``details["cert"]`` has the same shape and the
``uplight_tls_cert_*`` gauges read it for http monitors too. With
``verify_tls = false`` the certificate is still read and reported (unverified: the
``verified`` detail says so); with a redirect it is the final server's.
"""

from __future__ import annotations

import datetime as dt
import ssl
from typing import Any

import httpx

from .tls_cert import CertFacts, expiry_problem, parse_certificate


def peer_certificate(response: httpx.Response) -> bytes | None:
    """The DER certificate the server presented, or None (plain HTTP, or not exposed)."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        tls = stream.get_extra_info("ssl_object")
    except Exception:  # a transport that knows no extra info: report nothing
        return None
    if not isinstance(tls, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = tls.getpeercert(binary_form=True)
    return der or None


def cert_facts(der: bytes | None) -> CertFacts | None:
    if der is None:
        return None
    try:
        return parse_certificate(der)
    except ValueError:  # OpenSSL accepted what cryptography cannot read
        return None


def cert_problem(
    facts: CertFacts, warn_days: int | None, critical_days: int | None, now: dt.datetime
) -> tuple[str, str] | None:
    """("down" or "degraded", message) when the certificate is near or past expiry."""
    if critical_days is None and warn_days is None:
        return None
    failure = expiry_problem(facts, now)
    if failure is not None:
        return "down", failure
    days = facts.days_left(now)
    if critical_days is not None and days < critical_days:
        return "down", f"certificate expires in {days:.1f} days"
    if warn_days is not None and days < warn_days:
        return "degraded", f"certificate expires in {days:.1f} days"
    return None


def cert_details(facts: CertFacts | None, verified: bool, now: dt.datetime) -> dict[str, Any]:
    if facts is None:
        return {}
    return {"cert": facts.as_details(now), "cert_verified": verified}
