"""One client TLS policy for every plugin."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import trustme

from uplight import client_ssl_context, trust


def test_shared_contexts_are_cached_and_verify() -> None:
    first = client_ssl_context()
    assert client_ssl_context() is first
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname


def test_verify_off_checks_nothing() -> None:
    context = client_ssl_context(verify=False)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


def ca_certs(context: ssl.SSLContext) -> list[str]:
    return [cert["serialNumber"] for cert in context.get_ca_certs()]  # type: ignore[index]


def test_a_ca_file_context_is_shared_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    one = client_ssl_context(ca_file=path)
    assert one.get_ca_certs()  # the private CA is the trust store
    assert client_ssl_context(ca_file=path) is one
    assert client_ssl_context(ca_file=path, alpn=("h2",)) is not one  # another policy

    # Rotated in place: read again.
    trustme.CA().cert_pem.write_to_path(str(path))
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1_000_000))
    two = client_ssl_context(ca_file=path)
    assert two is not one and ca_certs(two) != ca_certs(one)

    # Replaced by a rename, as configuration tools do: read again.
    staged = tmp_path / "ca.pem.new"
    trustme.CA().cert_pem.write_to_path(str(staged))
    os.replace(staged, path)
    three = client_ssl_context(ca_file=path)
    assert three is not two and ca_certs(three) != ca_certs(two)


def test_a_missing_ca_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        client_ssl_context(ca_file=tmp_path / "gone.pem")


def test_ca_file_contexts_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    first = client_ssl_context(ca_file=path)
    for version in range(trust.CA_FILE_CONTEXTS):  # as many policies as the cache holds
        client_ssl_context(ca_file=path, alpn=(f"p{version}",))
    assert len(trust._ca_file_contexts) <= trust.CA_FILE_CONTEXTS
    assert client_ssl_context(ca_file=path) is not first  # the oldest was let go


def test_alpn_and_minimum_version_give_their_own_shared_context() -> None:
    dot = client_ssl_context(alpn=("dot",), minimum_version=ssl.TLSVersion.TLSv1_2)
    assert dot is not client_ssl_context()
    assert dot.minimum_version is ssl.TLSVersion.TLSv1_2
