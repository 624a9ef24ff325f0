"""The tls check against real TLS servers on 127.0.0.1 with certificates made here."""

from __future__ import annotations

import _ssl
import datetime as dt
import json
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from certs import (
    Issued,
    LoopbackServer,
    MailServer,
    TlsServer,
    days_from_now,
    make_ca,
    make_cert,
    server_context,
    silent,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from servers import GarbageServer, HttpServer, Route, refused_port

from uplight import CheckContext, CheckResult, CheckStatus
from uplight.config import Config, ConfigError
from uplight_plugins.checks import tls as tls_module
from uplight_plugins.checks.tls import TlsCheck, TlsOptions, uplight_check_types
from uplight_plugins.checks.tls_cert import parse_certificate

pytestmark = pytest.mark.timeout(10)

MakeConfig = Callable[[str], Config]
# chain_length is public from Python 3.13, on the private _ssl object before: either or None.
HAS_CHAIN = hasattr(ssl.SSLObject, "get_unverified_chain") or hasattr(
    _ssl._SSLSocket, "get_unverified_chain"
)


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_ca("uplight test root")


@pytest.fixture(scope="module")
def root_file(root: Issued, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root.write_cert(tmp_path_factory.mktemp("tls") / "root.pem")


async def run(timeout: float = 1.0, **options: Any) -> CheckResult:
    validated = TlsOptions.model_validate(options)
    result = await TlsCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))
    json.dumps(result.details)  # the store needs JSON
    return result


async def serve_and_check(leaf: Issued, *chain: Issued, **options: Any) -> CheckResult:
    async with TlsServer(server_context(leaf, *chain)) as server:
        return await run(host="127.0.0.1", port=server.port, **options)


def test_registers_the_tls_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [TlsCheck]
    assert TlsCheck.name == "tls"


async def test_valid_certificate_is_up_with_facts(root: Issued, root_file: Path) -> None:
    leaf = make_cert("localhost", "127.0.0.1", issuer=root, not_after=days_from_now(90))
    result = await serve_and_check(leaf, ca_file=str(root_file))
    assert result.status is CheckStatus.UP
    expires = leaf.cert.not_valid_after_utc.date().isoformat()
    assert result.message == f"certificate valid for 89 more days (expires {expires})"
    assert result.latency is not None and result.latency > 0
    cert = result.details["cert"]
    assert cert["subject"] == "CN=localhost,O=uplight tests"
    assert cert["issuer"] == "CN=uplight test root"
    assert cert["sans"] == ["localhost", "127.0.0.1"]
    assert (cert["key_type"], cert["key_size"]) == ("RSA", 2048)
    assert cert["signature_algorithm"] == "sha256WithRSAEncryption"
    assert cert["serial"] == format(leaf.cert.serial_number, "x")
    assert cert["self_signed"] is False
    assert cert["not_after"] == leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cert["not_before"].endswith("Z")
    assert 89.9 < cert["days_left"] <= 90
    assert result.details["verified"] is True
    assert result.details["server_name"] == "127.0.0.1"
    assert result.details["tls_version"] == "TLSv1.3"
    assert result.details["cipher"]
    assert result.details["chain_length"] == (1 if HAS_CHAIN else None)
    assert set(result.details["phases"]) == {"connect", "tls"}


async def test_chain_with_intermediate(root: Issued, root_file: Path) -> None:
    intermediate = make_ca("uplight test intermediate", issuer=root, key_type="ec")
    leaf = make_cert("127.0.0.1", issuer=intermediate)
    result = await serve_and_check(leaf, intermediate, ca_file=str(root_file))
    assert result.status is CheckStatus.UP, result.message
    assert result.details["cert"]["issuer"] == "CN=uplight test intermediate"
    assert result.details["cert"]["signature_algorithm"] == "ecdsa-with-SHA256"
    assert result.details["chain_length"] == (2 if HAS_CHAIN else None)


async def test_server_name_is_sent_as_sni_and_verified(root: Issued, root_file: Path) -> None:
    leaf = make_cert("status.home.test", issuer=root)
    async with TlsServer(server_context(leaf)) as server:
        result = await run(
            host="127.0.0.1",
            port=server.port,
            server_name="status.home.test",
            ca_file=str(root_file),
        )
    assert result.status is CheckStatus.UP, result.message
    assert server.server_names == ["status.home.test"]
    assert result.details["server_name"] == "status.home.test"


async def test_ip_host_sends_no_sni(root: Issued, root_file: Path) -> None:
    async with TlsServer(server_context(make_cert("127.0.0.1", issuer=root))) as server:
        result = await run(host="127.0.0.1", port=server.port, ca_file=str(root_file))
    assert result.status is CheckStatus.UP
    assert server.server_names == [None]


@pytest.mark.parametrize(
    ("days", "options", "status", "message"),
    [
        (5, {}, CheckStatus.DEGRADED, "certificate expires in 5.0 days"),
        (1, {}, CheckStatus.DOWN, "certificate expires in 1.0 days"),
        (20, {"warn_days": 30, "critical_days": 10}, CheckStatus.DEGRADED, "expires in 20.0"),
        (5, {"warn_days": 7, "critical_days": 6}, CheckStatus.DOWN, "expires in 5.0 days"),
        (2, {"warn_days": 1, "critical_days": 0}, CheckStatus.UP, "valid for 1 more day "),
    ],
)
async def test_days_left_thresholds(
    root: Issued,
    root_file: Path,
    days: int,
    options: dict[str, Any],
    status: CheckStatus,
    message: str,
) -> None:
    leaf = make_cert("127.0.0.1", issuer=root, not_after=days_from_now(days))
    result = await serve_and_check(leaf, ca_file=str(root_file), **options)
    assert result.status is status
    assert message in result.message
    assert result.details["verified"] is True
    assert days - 0.01 < result.details["cert"]["days_left"] <= days


@pytest.mark.parametrize("verify", [True, False])
async def test_expired_is_down_with_dates(root: Issued, root_file: Path, verify: bool) -> None:
    leaf = make_cert(
        "127.0.0.1", issuer=root, not_before=days_from_now(-90), not_after=days_from_now(-2)
    )
    trust = {"ca_file": str(root_file)} if verify else {"verify": False}
    result = await serve_and_check(leaf, **trust)
    assert result.status is CheckStatus.DOWN
    not_after = leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.message == f"certificate expired 2 days ago (not_after {not_after})"
    assert result.details["cert"]["not_after"] == not_after
    assert -2.01 < result.details["cert"]["days_left"] < -1.99
    assert result.details["verified"] is False
    if verify:
        assert result.details["verify_error"] == "certificate has expired"


async def test_not_yet_valid_is_down(root: Issued, root_file: Path) -> None:
    leaf = make_cert("127.0.0.1", issuer=root, not_before=days_from_now(3))
    result = await serve_and_check(leaf, ca_file=str(root_file))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("certificate is not yet valid (not_before ")
    assert result.details["verify_error"] == "certificate is not yet valid"


async def test_self_signed_is_down_with_verification() -> None:
    result = await serve_and_check(make_cert("127.0.0.1"))  # the system store: not trusted
    assert result.status is CheckStatus.DOWN
    assert result.message == "self-signed certificate"
    assert result.details["cert"]["self_signed"] is True
    assert result.details["verified"] is False
    assert result.latency is not None


async def test_unknown_issuer(root_file: Path) -> None:
    stranger = make_ca("some other CA")
    result = await serve_and_check(make_cert("127.0.0.1", issuer=stranger), ca_file=str(root_file))
    assert result.status is CheckStatus.DOWN
    assert result.message == "unknown issuer (unable to get local issuer certificate)"
    assert result.details["cert"]["issuer"] == "CN=some other CA"


async def test_ip_not_in_certificate_is_a_hostname_mismatch(root: Issued, root_file: Path) -> None:
    leaf = make_cert("a.example", "b.example", issuer=root)
    result = await serve_and_check(leaf, ca_file=str(root_file))
    assert result.status is CheckStatus.DOWN
    assert (
        result.message
        == "hostname mismatch: certificate is for a.example, b.example, not 127.0.0.1"
    )
    assert result.details["cert"]["sans"] == ["a.example", "b.example"]


async def test_server_name_mismatch(root: Issued, root_file: Path) -> None:
    leaf = make_cert("localhost", "127.0.0.1", issuer=root)
    result = await serve_and_check(leaf, server_name="nas.home.test", ca_file=str(root_file))
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        "hostname mismatch: certificate is for localhost, 127.0.0.1, not nas.home.test"
    )


async def test_verify_false_judges_expiry_only() -> None:
    leaf = make_cert("elsewhere.example", not_after=days_from_now(400))
    result = await serve_and_check(leaf, verify=False)
    assert result.status is CheckStatus.UP
    assert result.message.startswith("certificate valid for 399 more days")
    assert result.details["verified"] is False
    assert result.details["cert"]["self_signed"] is True
    assert "verify_error" not in result.details


async def test_verify_false_still_warns(root: Issued) -> None:
    leaf = make_cert("127.0.0.1", issuer=root, not_after=days_from_now(5))
    result = await serve_and_check(leaf, verify=False)
    assert result.status is CheckStatus.DEGRADED


async def test_ec_key(root: Issued, root_file: Path) -> None:
    result = await serve_and_check(
        make_cert("127.0.0.1", issuer=root, key_type="ec"), ca_file=str(root_file)
    )
    assert result.status is CheckStatus.UP
    cert = result.details["cert"]
    assert (cert["key_type"], cert["key_size"]) == ("EC", 256)


async def test_ed25519_key(root: Issued, root_file: Path) -> None:
    result = await serve_and_check(
        make_cert("127.0.0.1", issuer=root, key_type="ed25519"), ca_file=str(root_file)
    )
    assert result.status is CheckStatus.UP
    assert (result.details["cert"]["key_type"], result.details["cert"]["key_size"]) == (
        "Ed25519",
        None,
    )


async def test_connection_refused() -> None:
    result = await run(host="127.0.0.1", port=refused_port())
    assert result.status is CheckStatus.DOWN
    assert result.message == "connection refused"
    assert result.latency is None


@pytest.mark.parametrize("server", [GarbageServer, lambda: HttpServer({"/": Route(200)})])
async def test_plain_text_server_is_a_handshake_failure(server: Callable[[], Any]) -> None:
    with server() as plain:
        result = await run(host="127.0.0.1", port=plain.port)
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS handshake failed: wrong version number")


async def test_server_hanging_up_is_a_handshake_failure() -> None:
    async def hang_up(reader: Any, writer: Any) -> None:
        writer.close()

    async with LoopbackServer(hang_up) as server:
        result = await run(host="127.0.0.1", port=server.port)
    assert result.status is CheckStatus.DOWN
    assert result.message == "TLS handshake failed: connection closed by server"


async def test_silent_server_times_out() -> None:
    async with LoopbackServer(silent) as server:
        result = await run(timeout=0.3, host="127.0.0.1", port=server.port)
    assert result.status is CheckStatus.DOWN
    assert result.message == "timed out after 0.3s (TLS handshake)"
    assert "connect" in result.details["phases"]


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3"])
async def test_starttls(root: Issued, root_file: Path, protocol: Any) -> None:
    tls = server_context(make_cert("mail.home.test", issuer=root, not_after=days_from_now(60)))
    async with MailServer(protocol, tls) as server:
        result = await run(
            host="127.0.0.1",
            port=server.port,
            server_name="mail.home.test",
            starttls=protocol,
            ca_file=str(root_file),
        )
    assert result.status is CheckStatus.UP, result.message
    assert result.details["cert"]["sans"] == ["mail.home.test"]
    assert set(result.details["phases"]) == {"connect", "starttls", "tls"}
    expected = {"smtp": "STARTTLS", "imap": "a1 STARTTLS", "pop3": "STLS"}[protocol]
    assert server.received[-1] == expected


async def test_smtp_says_ehlo_with_an_address_literal(root: Issued, root_file: Path) -> None:
    tls = server_context(make_cert("127.0.0.1", issuer=root))
    async with MailServer("smtp", tls) as server:
        await run(host="127.0.0.1", port=server.port, starttls="smtp", ca_file=str(root_file))
    assert server.received == ["EHLO [127.0.0.1]", "STARTTLS"]


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        ("smtp", "STARTTLS failed: server does not offer STARTTLS"),
        ("imap", "STARTTLS failed: STARTTLS refused: 'a1 BAD unknown command'"),
        ("pop3", "STARTTLS failed: STLS refused: '-ERR unknown command'"),
    ],
)
async def test_starttls_refused(root: Issued, protocol: Any, message: str) -> None:
    tls = server_context(make_cert("127.0.0.1", issuer=root))
    async with MailServer(protocol, tls, offer_starttls=False) as server:
        result = await run(host="127.0.0.1", port=server.port, starttls=protocol)
    assert result.status is CheckStatus.DOWN
    assert result.message == message


async def test_starttls_with_a_tls_server_is_a_starttls_failure(root: Issued) -> None:
    async with TlsServer(server_context(make_cert("127.0.0.1", issuer=root))) as server:
        result = await run(timeout=0.3, host="127.0.0.1", port=server.port, starttls="smtp")
    # Both sides wait for the other to speak first: the SMTP greeting never comes.
    assert result.status is CheckStatus.DOWN
    assert result.message == "timed out after 0.3s (STARTTLS)"


async def test_unexpected_errors_become_down_results(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(tls_module, "_probe", broken)
    result = await run(host="127.0.0.1", port=refused_port())
    assert result.status is CheckStatus.DOWN
    assert result.message == "TLS check failed: RuntimeError: boom"


async def test_starttls_verification_failure_still_reports_facts() -> None:
    tls = server_context(make_cert("127.0.0.1", not_after=days_from_now(30)))
    async with MailServer("imap", tls) as server:
        result = await run(host="127.0.0.1", port=server.port, starttls="imap")
    assert result.status is CheckStatus.DOWN
    assert result.message == "self-signed certificate"
    assert 29.9 < result.details["cert"]["days_left"] <= 30


@pytest.fixture
def ca_copy(root_file: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ca.pem"
    copy.write_bytes(root_file.read_bytes())
    return copy


async def test_ca_file_removed_after_load_is_down(ca_copy: Path) -> None:
    copy = ca_copy
    options = TlsOptions.model_validate({"host": "127.0.0.1", "ca_file": str(copy)})
    os.unlink(copy)
    result = await TlsCheck().check(options, CheckContext(monitor_id="m", timeout=1))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("cannot load ca_file")


def test_certificate_facts_of_a_ca_signed_cert(root: Issued) -> None:
    leaf = make_cert("x.example", issuer=root, key_type="ec", key_size=384)
    facts = parse_certificate(leaf.cert.public_bytes(Encoding.DER))
    assert (facts.key_type, facts.key_size) == ("EC", 384)
    assert facts.self_signed is False
    assert parse_certificate(root.cert.public_bytes(Encoding.DER)).self_signed is True
    assert 89 < facts.days_left(dt.datetime.now(dt.UTC)) <= 90
    assert facts.fingerprint_sha256 == leaf.cert.fingerprint(hashes.SHA256()).hex()


def test_garbage_is_not_a_certificate() -> None:
    with pytest.raises(ValueError):
        parse_certificate(b"not a certificate")


def test_defaults_and_public_summary() -> None:
    options = TlsOptions.model_validate({"host": "Example.COM"})
    assert (options.port, options.warn_days, options.critical_days) == (443, 14, 3)
    assert options.verify is True and options.ca_file is None and options.starttls is None
    assert options.name == "Example.COM"
    assert TlsCheck().public_summary(options) == {"host": "Example.COM", "port": 443}
    mail = TlsOptions.model_validate({"host": "[::1]", "port": 25, "starttls": "SMTP"})
    assert (mail.host, mail.starttls) == ("::1", "smtp")
    assert TlsCheck().public_summary(mail) == {"host": "::1", "port": 25, "starttls": "smtp"}
    assert TlsOptions.model_validate({"host": "bücher.example"}).host == "xn--bcher-kva.example"


def _monitor(**keys: Any) -> str:
    lines = ['id = "cert"', 'name = "Cert"', 'type = "tls"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "[[monitors]]\n" + "\n".join(lines) + "\n"


def test_valid_config_loads(make_config: MakeConfig, root_file: Path) -> None:
    config = make_config(
        _monitor(host="mail.example.com", port=587, starttls="smtp", ca_file=str(root_file))
    )
    options = config.monitors[0].options
    assert isinstance(options, TlsOptions)
    assert (options.port, options.starttls, options.ca_file) == (587, "smtp", root_file)


@pytest.mark.parametrize(
    ("keys", "path", "fragment"),
    [
        ({"host": "a.example", "warn_days": 3, "critical_days": 7}, "monitors[0].critical_days", "critical_days (7) must not be more than warn_days (3)"),
        ({"host": "a.example", "critical_days": -1}, "monitors[0].critical_days", "greater than or equal to 0"),
        ({"host": "a.example", "port": 0}, "monitors[0].port", "greater than or equal to 1"),
        ({"host": "a.example", "port": 70000}, "monitors[0].port", "less than or equal to 65535"),
        ({}, "monitors[0].host", "required key is missing"),
        ({"host": "a.example", "starttls": "ftp"}, "monitors[0].starttls", "'smtp', 'imap' or 'pop3'"),
        ({"host": "a.example", "ca_file": "/nonexistent/ca.pem"}, "monitors[0].ca_file", "file not found"),
        ({"host": "https://a.example/"}, "monitors[0].host", "not a URL"),
        ({"host": "a.example:443"}, "monitors[0].host", "without a port"),
        ({"host": "bad host"}, "monitors[0].host", "not a valid hostname"),
        ({"host": "a.example", "server_name": "-x.example"}, "monitors[0].server_name", "not a valid hostname"),
        ({"host": "a.example", "verify": False, "ca_file": __file__}, "monitors[0].ca_file", "PEM"),
        ({"host": "a.example", "warn": 3}, "monitors[0].warn", "unknown key 'warn'"),
    ],
)  # fmt: skip
def test_config_errors(
    make_config: MakeConfig, keys: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(_monitor(**keys))
    assert any(issue.path == path and fragment in issue.message for issue in info.value.issues), [
        str(issue) for issue in info.value.issues
    ]


def test_ca_file_with_verify_false_is_a_config_error(
    make_config: MakeConfig, root_file: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(_monitor(host="a.example", verify=False, ca_file=str(root_file)))
    assert [str(issue) for issue in info.value.issues] == [
        "monitors[0]: ca_file has no effect with verify = false: remove one of them"
    ]


def test_equal_thresholds_skip_the_degraded_stage(make_config) -> None:
    config = make_config(
        '[[monitors]]\nid = "t"\nname = "T"\ntype = "tls"\nhost = "a.example"\n'
        "warn_days = 5\ncritical_days = 5\n"
    )
    assert (config.monitors[0].options.warn_days, config.monitors[0].options.critical_days) == (
        5,
        5,
    )
