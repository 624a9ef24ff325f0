"""One client TLS policy for every plugin."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

from uplight import client_ssl_context


def test_shared_contexts_are_cached_and_verify() -> None:
    first = client_ssl_context()
    assert client_ssl_context() is first
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname


def test_verify_off_checks_nothing() -> None:
    context = client_ssl_context(verify=False)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


def test_a_ca_file_context_is_built_per_call(tmp_path: Path) -> None:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    one = client_ssl_context(ca_file=path)
    assert one is not client_ssl_context(ca_file=path)  # a rotated file is read again
    assert one.get_ca_certs()  # the private CA is the trust store


def test_alpn_and_minimum_version_give_their_own_shared_context() -> None:
    dot = client_ssl_context(alpn=("dot",), minimum_version=ssl.TLSVersion.TLSv1_2)
    assert dot is not client_ssl_context()
    assert dot.minimum_version is ssl.TLSVersion.TLSv1_2
