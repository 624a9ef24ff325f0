"""The dns check against a real DNS server on 127.0.0.1 (UDP, TCP, DoT, DoH)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.asyncresolver
import dns.resolver
import dns.reversename
import pytest
import trustme
from dnsserver import DnsServer, Name, Query
from servers import refused_port, server_tls_context

from uplight import CheckContext, CheckResult, CheckStatus
from uplight.config import ConfigError
from uplight_plugins.checks import dns as dns_check
from uplight_plugins.checks.dns import DnsCheck, DnsOptions, uplight_check_types
from uplight_plugins.checks.dns_values import seconds

pytestmark = pytest.mark.timeout(10)

SOA = "ns1.example.org. hostmaster.example.org. 2024010101 3600 600 604800 300"
ZONE: dict[str, Any] = {
    "example.org": {
        "A": ["10.0.0.1", "10.0.0.2"],
        "AAAA": ["2001:db8::1"],
        "MX": ["10 mail.example.org.", "20 backup.example.org."],
        "TXT": ['"v=spf1 -all"', '"part one " "part two"'],
        "NS": ["ns1.example.org.", "ns2.example.org."],
        "SOA": [SOA],
        "CAA": ['0 issue "letsencrypt.org"'],
    },
    "www.example.org": {"CNAME": ["example.org."]},
    "_sip._tcp.example.org": {"SRV": ["10 5 5060 sip.example.org."]},
    "1.0.0.10.in-addr.arpa": {"PTR": ["host.example.org."]},
    dns.reversename.from_address("2001:db8::1").to_text(): {"PTR": ["host6.example.org."]},
    "mail-only.example.org": {"MX": ["10 mail.example.org."]},
    "servfail.example.org": Name(rcode="SERVFAIL"),
    "refused.example.org": Name(rcode="REFUSED"),
    "slow.example.org": Name({"A": ["10.0.0.3"]}, delay=5),
    "sluggish.example.org": Name({"A": ["10.0.0.4"]}, delay=0.15),
    "big.example.org": Name({"A": ["10.0.0.5"]}, truncate_udp=True),
    "junk.example.org": Name(garbage=b"\xde\xad\xbe\xef this is not DNS"),
}
DETAIL_KEYS = {
    "query",
    "record_type",
    "nameserver",
    "protocol",
    "rcode",
    "answers",
    "answer_count",
}


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as running:
        yield running


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[DnsServer]:
    with DnsServer(ZONE, tls=server_tls_context(ca, "127.0.0.1", "dns.example.test")) as running:
        yield running


async def run(server: DnsServer | None = None, timeout: float = 1.0, **options: Any) -> CheckResult:
    if server is not None:
        options.setdefault("nameservers", [server.address])
    validated = DnsOptions.model_validate(options)
    return await DnsCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))


def test_registers_the_dns_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [DnsCheck]
    assert DnsCheck.name == "dns"


# -- answers ---------------------------------------------------------------------------


async def test_a_record_is_up_with_a_message_and_details(server: DnsServer) -> None:
    result = await run(server, query="example.org")
    assert result.status is CheckStatus.UP
    assert result.message.startswith(f"A example.org @{server.address}: NOERROR, 2 answers (")
    assert "10.0.0.1" in result.message and result.message.endswith("ms")
    assert result.latency is not None and 0 < result.latency < 1
    assert set(result.details) == DETAIL_KEYS
    assert result.details["answer_count"] == 2
    assert result.details["rcode"] == "NOERROR"
    assert result.details["nameserver"] == server.address
    assert result.details["protocol"] == "udp"
    assert sorted(a["value"] for a in result.details["answers"]) == ["10.0.0.1", "10.0.0.2"]
    assert {a["ttl"] for a in result.details["answers"]} == {300}
    assert server.transports("example.org") == ["udp"]


@pytest.mark.parametrize(
    ("record_type", "query", "expected"),
    [
        ("A", "example.org", ["10.0.0.2", "10.0.0.1"]),
        ("A", "EXAMPLE.org.", ["10.0.0.1"]),
        ("AAAA", "example.org", ["2001:DB8:0:0::0001"]),
        ("MX", "example.org", ["10 mail.example.org."]),
        ("MX", "example.org", ["10 MAIL.example.org", "backup.example.org"]),
        ("TXT", "example.org", ["v=spf1 -all"]),
        ("TXT", "example.org", ['"v=spf1 -all"']),
        ("TXT", "example.org", ["part one part two"]),
        ("CNAME", "www.example.org", ["Example.ORG."]),
        ("NS", "example.org", ["ns1.example.org", "NS2.example.org."]),
        ("SOA", "example.org", [SOA.replace(". ", " ").upper()]),
        ("SRV", "_sip._tcp.example.org", ["10 5 5060 sip.example.org"]),
        ("CAA", "example.org", ["0 issue letsencrypt.org"]),
        ("PTR", "10.0.0.1", ["host.example.org"]),
        ("PTR", "2001:db8::1", ["host6.example.org."]),
        ("PTR", "1.0.0.10.in-addr.arpa", "host.example.org"),
    ],
)
async def test_expect_values_are_normalised(
    server: DnsServer, record_type: str, query: str, expected: list[str]
) -> None:
    result = await run(server, query=query, record_type=record_type, expect_values=expected)
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith(f"{record_type} {query.rstrip('.')}")


async def test_cname_chain_answers_with_the_final_records(server: DnsServer) -> None:
    result = await run(server, query="www.example.org", expect_exact=["10.0.0.1", "10.0.0.2"])
    assert result.status is CheckStatus.UP, result.message
    assert result.details["answer_count"] == 2


async def test_missing_value_lists_expected_and_got(server: DnsServer) -> None:
    result = await run(server, query="example.org", expect_values=["10.0.0.1", "10.0.0.9"])
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(f"A example.org @{server.address}: missing 10.0.0.9; got ")
    assert "10.0.0.1" in result.message and "10.0.0.2" in result.message
    assert result.details["answer_count"] == 2


async def test_expect_exact_fails_on_an_extra_answer(server: DnsServer) -> None:
    result = await run(server, query="example.org", expect_exact=["10.0.0.1"])
    assert result.status is CheckStatus.DOWN
    assert "expected exactly 10.0.0.1; got" in result.message
    assert "(unexpected 10.0.0.2)" in result.message


async def test_expect_exact_fails_on_a_missing_answer(server: DnsServer) -> None:
    result = await run(
        server, query="example.org", expect_exact=["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    )
    assert result.status is CheckStatus.DOWN
    assert "(missing 10.0.0.3)" in result.message


async def test_ptr_query_by_ip_asks_the_reverse_name(server: DnsServer) -> None:
    result = await run(server, query="10.0.0.1", record_type="ptr")
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith("PTR 10.0.0.1 @")
    assert result.details["query"] == "1.0.0.10.in-addr.arpa"
    assert server.transports("1.0.0.10.in-addr.arpa") == ["udp"]


# -- rcodes and answer counts ----------------------------------------------------------


async def test_nxdomain_is_down_unless_expected(server: DnsServer) -> None:
    result = await run(server, query="nope.example.org")
    assert result.status is CheckStatus.DOWN
    assert result.message.endswith("expected NOERROR, got NXDOMAIN (the name does not exist)")
    assert result.details["rcode"] == "NXDOMAIN"
    assert result.details["answer_count"] == 0

    expected = await run(server, query="nope.example.org", expect_rcode="nxdomain")
    assert expected.status is CheckStatus.UP
    assert "NXDOMAIN as expected" in expected.message


async def test_expected_nxdomain_is_down_when_the_name_exists(server: DnsServer) -> None:
    result = await run(server, query="example.org", expect_rcode="NXDOMAIN")
    assert result.status is CheckStatus.DOWN
    assert result.message.endswith("expected NXDOMAIN, got NOERROR")


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
async def test_error_rcodes_are_down(server: DnsServer, rcode: str) -> None:
    result = await run(server, query=f"{rcode.lower()}.example.org")
    assert result.status is CheckStatus.DOWN
    assert (
        result.message
        == f"A {rcode.lower()}.example.org @{server.address}: expected NOERROR, got {rcode}"
    )
    assert result.details["rcode"] == rcode


async def test_servfail_can_be_the_expected_answer(server: DnsServer) -> None:
    result = await run(server, query="servfail.example.org", expect_rcode="SERVFAIL")
    assert result.status is CheckStatus.UP


async def test_nodata_is_down_by_default_and_up_with_min_answers_0(server: DnsServer) -> None:
    result = await run(server, query="mail-only.example.org")
    assert result.status is CheckStatus.DOWN
    assert "NOERROR but no A records (NODATA)" in result.message
    assert "min_answers = 0" in result.message

    allowed = await run(server, query="mail-only.example.org", min_answers=0)
    assert allowed.status is CheckStatus.UP
    assert "NOERROR, no answers" in allowed.message


async def test_too_few_answers(server: DnsServer) -> None:
    result = await run(server, query="example.org", min_answers=3)
    assert result.status is CheckStatus.DOWN
    assert "expected at least 3 answers, got 2" in result.message
    assert (await run(server, query="example.org", min_answers=2)).status is CheckStatus.UP


# -- time ------------------------------------------------------------------------------


async def test_no_answer_within_the_timeout_is_down(server: DnsServer) -> None:
    started = time.monotonic()
    result = await run(server, timeout=0.3, query="slow.example.org")
    assert time.monotonic() - started < 1
    assert result.status is CheckStatus.DOWN
    assert result.message == f"A slow.example.org: no answer from {server.address} within 300ms"
    assert result.latency is None
    assert result.details["rcode"] is None


@pytest.mark.parametrize(
    ("value", "text"), [(0.3, "300ms"), (0.99999, "1s"), (1.0, "1s"), (2.5, "2.5s"), (10.0, "10s")]
)
def test_durations_in_messages(value: float, text: str) -> None:
    # A 1s timeout leaves a share of 0.99999s by the time the query starts.
    assert seconds(value) == text


async def test_slow_answer_is_degraded(server: DnsServer) -> None:
    result = await run(server, query="sluggish.example.org", response_time_degraded="50ms")
    assert result.status is CheckStatus.DEGRADED
    assert "slower than 50ms" in result.message
    assert result.details["answer_count"] == 1
    fast = await run(server, query="example.org", response_time_degraded="500ms")
    assert fast.status is CheckStatus.UP


# -- transports ------------------------------------------------------------------------


async def test_truncated_udp_answer_is_retried_over_tcp(server: DnsServer) -> None:
    result = await run(server, query="big.example.org", expect_values=["10.0.0.5"])
    assert result.status is CheckStatus.UP, result.message
    assert server.transports("big.example.org") == ["udp", "tcp"]
    assert "via TCP" in result.message


async def test_tcp_protocol(server: DnsServer) -> None:
    result = await run(server, query="example.org", protocol="TCP")
    assert result.status is CheckStatus.UP, result.message
    assert result.details["protocol"] == "tcp"
    assert server.transports("example.org") == ["tcp"]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_garbage_answer_is_down_not_an_exception(server: DnsServer, protocol: str) -> None:
    result = await run(server, query="junk.example.org", protocol=protocol)
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(
        f"A junk.example.org: invalid DNS response from {server.address}"
    )


async def test_refused_tcp_connection_is_down() -> None:
    address = f"127.0.0.1:{refused_port()}"
    result = await run(query="example.org", protocol="tcp", nameservers=[address])
    assert result.status is CheckStatus.DOWN
    assert result.message == f"A example.org: connection refused by {address}"


async def test_unexpected_errors_become_down_results(
    server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("surprise")

    monkeypatch.setattr(dns.asyncquery, "udp_with_fallback", broken)
    result = await run(server, query="example.org")
    assert result.status is CheckStatus.DOWN
    assert (
        result.message == f"A example.org: query to {server.address} failed: RuntimeError: surprise"
    )


async def test_next_nameserver_is_tried_after_a_timeout(server: DnsServer) -> None:
    with DnsServer({"example.org": Name({"A": ["10.0.0.1"]}, delay=5)}) as dead:
        result = await run(query="example.org", nameservers=[dead.address, server.address])
    assert result.status is CheckStatus.UP, result.message
    assert result.details["nameserver"] == server.address
    assert f"other nameservers: no answer from {dead.address} within 500ms" in result.message


async def test_next_nameserver_is_tried_after_servfail(server: DnsServer) -> None:
    with DnsServer({"example.org": Name(rcode="SERVFAIL")}) as failing:
        result = await run(query="example.org", nameservers=[failing.address, server.address])
        assert result.status is CheckStatus.UP, result.message
        assert f"{failing.address} answered SERVFAIL" in result.message
        result = await run(query="example.org", nameservers=[server.address, failing.address])
    assert result.status is CheckStatus.UP
    # Once the first nameserver answers, the second is not asked.
    assert failing.queries == [Query("example.org", "A", "udp")]


# -- DNS over TLS and over HTTPS -------------------------------------------------------


async def test_dns_over_tls(tls_server: DnsServer, ca_file: Path) -> None:
    result = await run(
        query="example.org",
        protocol="tls",
        nameservers=[tls_server.tls_address],
        ca_file=str(ca_file),
    )
    assert result.status is CheckStatus.UP, result.message
    assert tls_server.transports("example.org") == ["tls"]


async def test_dns_over_tls_checks_the_certificate(tls_server: DnsServer, ca_file: Path) -> None:
    untrusted = await run(query="example.org", protocol="tls", nameservers=[tls_server.tls_address])
    assert untrusted.status is CheckStatus.DOWN
    assert (
        "TLS error with" in untrusted.message and "certificate verify failed" in untrusted.message
    )

    options = {"query": "example.org", "protocol": "tls", "ca_file": str(ca_file)}
    named = await run(
        nameservers=[tls_server.tls_address], tls_hostname="dns.example.test", **options
    )
    assert named.status is CheckStatus.UP, named.message
    wrong = await run(
        nameservers=[tls_server.tls_address], tls_hostname="other.example.test", **options
    )
    assert wrong.status is CheckStatus.DOWN
    assert "certificate verify failed" in wrong.message


async def test_dns_over_https(tls_server: DnsServer, ca_file: Path) -> None:
    for nameserver in (tls_server.https_url, f"127.0.0.1:{tls_server.https_port}"):
        result = await run(
            query="example.org",
            protocol="https",
            nameservers=[nameserver],
            ca_file=str(ca_file),
            expect_values=["10.0.0.1"],
        )
        assert result.status is CheckStatus.UP, result.message
        assert result.details["nameserver"] == tls_server.https_url
    assert tls_server.transports("example.org") == ["https", "https"]


async def test_dns_over_https_error_status(tls_server: DnsServer, ca_file: Path) -> None:
    url = tls_server.https_url.replace("/dns-query", "/elsewhere")
    result = await run(
        query="example.org", protocol="https", nameservers=[url], ca_file=str(ca_file)
    )
    assert result.status is CheckStatus.DOWN
    assert result.message == f"A example.org: {url} answered HTTP 404"


async def test_ca_file_removed_after_loading_is_down(ca_file: Path) -> None:
    options = DnsOptions(
        query="example.org", protocol="tls", nameservers=["127.0.0.1"], ca_file=ca_file
    )
    os.unlink(ca_file)  # e.g. rotated away after the config was loaded
    result = await DnsCheck().check(options, CheckContext(monitor_id="m", timeout=1))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(f"cannot load ca_file {ca_file}")


# -- the system resolver ---------------------------------------------------------------


@pytest.fixture
def system_is(monkeypatch: pytest.MonkeyPatch) -> Callable[[DnsServer], None]:
    """Make the "system resolver" one that asks a test server (never the real network)."""

    def point_at(target: DnsServer) -> None:
        def resolver() -> dns.asyncresolver.Resolver:
            made = dns.asyncresolver.Resolver(configure=False)
            made.nameservers = ["127.0.0.1"]
            made.port = target.port
            return made

        monkeypatch.setattr(dns_check, "_system_resolver", resolver)

    return point_at


async def test_system_resolver_answers(server: DnsServer, system_is: Callable[..., None]) -> None:
    system_is(server)
    result = await run(query="www.example.org", expect_values=["10.0.0.2"])
    assert result.status is CheckStatus.UP, result.message
    assert result.details["nameserver"] == server.address
    assert (await run(query="mail-only.example.org")).status is CheckStatus.DOWN


async def test_system_resolver_rcodes(server: DnsServer, system_is: Callable[..., None]) -> None:
    system_is(server)
    assert (await run(query="nope.example.org", expect_rcode="NXDOMAIN")).status is CheckStatus.UP
    missing = await run(query="nope.example.org")
    assert missing.message.endswith("expected NOERROR, got NXDOMAIN (the name does not exist)")
    servfail = await run(query="servfail.example.org")
    assert servfail.status is CheckStatus.DOWN
    assert servfail.message.endswith("expected NOERROR, got SERVFAIL")


async def test_system_resolver_timeout(server: DnsServer, system_is: Callable[..., None]) -> None:
    system_is(server)
    result = await run(query="slow.example.org", timeout=0.3)
    assert result.status is CheckStatus.DOWN
    assert "no answer from system resolver" in result.message
    assert "within 300ms" in result.message


async def test_system_resolver_garbage(server: DnsServer, system_is: Callable[..., None]) -> None:
    system_is(server)
    # The resolver drops malformed datagrams (as it drops spoofed ones) and waits on.
    result = await run(query="junk.example.org", timeout=0.3)
    assert result.status is CheckStatus.DOWN
    assert "no answer from system resolver" in result.message


def test_system_resolver_is_built_from_the_system_config() -> None:
    # Only the construction: no query leaves this machine.
    try:
        resolver = dns_check._system_resolver()
    except dns.resolver.NoResolverConfiguration:
        pytest.skip("no /etc/resolv.conf here")
    assert resolver.nameservers


def test_public_summary() -> None:
    options = DnsOptions(
        query="example.org",
        protocol="https",
        nameservers=["https://user:pw@dns.example.test/dns-query?token=x", "192.0.2.1"],
    )
    summary = DnsCheck().public_summary(options)
    assert summary["nameservers"] == [
        "https://dns.example.test/dns-query",
        "https://192.0.2.1:443/dns-query",
    ]
    assert DnsCheck().public_summary(DnsOptions(query="example.org"))["nameservers"] == "system"


# -- config ----------------------------------------------------------------------------


def monitor(**options: Any) -> str:
    lines = ["[[monitors]]", 'id = "dns"', 'name = "DNS"', 'type = "dns"']
    for key, value in options.items():
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_issues(make_config: Callable[[str], Any], text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        make_config(text)
    return [str(issue) for issue in caught.value.issues]


def test_valid_config_has_defaults(make_config: Callable[[str], Any]) -> None:
    config = make_config(monitor(query="example.org", record_type="mx", timeout="2s"))
    options = config.monitors[0].options
    assert isinstance(options, DnsOptions)
    assert options.record_type == "MX"
    assert options.protocol == "udp"
    assert options.expect_rcode == "NOERROR"
    assert options.nameservers is None
    assert options.required_answers == 1
    assert DnsOptions(query="x.org", expect_rcode="nxdomain").required_answers == 0


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        (
            {"record_type": "ANY"},
            "record_type",
            "use one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA, PTR",
        ),
        ({"nameservers": ["999.1.1.1"]}, "nameservers[0]", "'999.1.1.1' is not an IP address"),
        (
            {"nameservers": ["1.2.3.4:70000"]},
            "nameservers[0]",
            "port 70000 is out of range (1-65535)",
        ),
        (
            {"nameservers": ["1.2.3.4", "not-an-ip"]},
            "nameservers[1]",
            "'not-an-ip' is not an IP address",
        ),
        ({"nameservers": ["1.2.3.4:dns"]}, "nameservers[0]", "invalid port 'dns'"),
        ({"nameservers": []}, "nameservers", "list at least one nameserver"),
        (
            {"nameservers": ["https://dns.example.test/dns-query"]},
            "nameservers[0]",
            'is a URL: URLs are for protocol = "https"',
        ),
        ({"expect_rcode": "NOSUCHCODE"}, "expect_rcode", "unknown rcode 'NOSUCHCODE'"),
        ({"expect_rcode": "3"}, "expect_rcode", "unknown rcode '3'"),
        ({"protocol": "quic"}, "protocol", "'udp', 'tcp', 'tls' or 'https'"),
        (
            {"expect_values": ["10.0.0.1", "ten"]},
            "expect_values[1]",
            "'ten' is not an IPv4 address",
        ),
        (
            {"record_type": "AAAA", "expect_exact": ["10.0.0.1"]},
            "expect_exact[0]",
            "is not an IPv6 address",
        ),
        (
            {"record_type": "MX", "expect_values": ["ten mail.example.org"]},
            "expect_values[0]",
            "an MX value is",
        ),
        ({"min_answers": -1}, "min_answers", "greater than or equal to 0"),
        ({"response_time_degraded": "fast"}, "response_time_degraded", "invalid duration"),
        ({"nameserver": ["1.2.3.4"]}, "nameserver", "did you mean 'nameservers'?"),
    ],
)
def test_option_errors_carry_their_toml_path(
    make_config: Callable[[str], Any], options: dict[str, Any], path: str, fragment: str
) -> None:
    issues = config_issues(make_config, monitor(query="example.org", **options))
    assert len(issues) == 1, issues
    assert issues[0].startswith(f"monitors[0].{path}: ")
    assert fragment in issues[0]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("exa mple.org", "contains spaces"),
        ("a..example.org", "a DNS label is empty"),
        ("x" * 64 + ".org", "a DNS label is > 63 octets long"),
        ("", "must not be empty"),
        ("10.0.0.1", 'use record_type = "PTR"'),
    ],
)
def test_bad_query_names(make_config: Callable[[str], Any], query: str, fragment: str) -> None:
    issues = config_issues(make_config, monitor(query=query))
    assert len(issues) == 1, issues
    assert issues[0].startswith("monitors[0].query: ")
    assert fragment in issues[0]


def test_missing_query(make_config: Callable[[str], Any]) -> None:
    assert config_issues(make_config, monitor()) == ["monitors[0].query: required key is missing"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"protocol": "tls"}, 'protocol = "tls" needs nameservers'),
        ({"protocol": "https"}, 'protocol = "https" needs nameservers'),
        (
            {"nameservers": ["1.2.3.4"], "ca_file": "CA"},
            'ca_file is only used with protocol = "tls" or "https"',
        ),
        (
            {"nameservers": ["1.2.3.4"], "protocol": "https", "tls_hostname": "dns.example.test"},
            "tls_hostname is only used",
        ),
        (
            {"expect_rcode": "NXDOMAIN", "expect_values": ["10.0.0.1"]},
            'need expect_rcode = "NOERROR"',
        ),
        ({"expect_exact": [], "min_answers": 1}, "contradicts min_answers"),
    ],
)
def test_inconsistent_options(
    make_config: Callable[[str], Any], ca_file: Path, options: dict[str, Any], fragment: str
) -> None:
    if options.get("ca_file") == "CA":
        options["ca_file"] = str(ca_file)
    issues = config_issues(make_config, monitor(query="example.org", **options))
    assert len(issues) == 1, issues
    assert issues[0].startswith("monitors[0]: ")
    assert fragment in issues[0]


def test_ca_file_must_be_a_pem_bundle(make_config: Callable[[str], Any], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    text = monitor(query="example.org", protocol="tls", nameservers=["1.2.3.4"], ca_file=str(bogus))
    [issue] = config_issues(make_config, text)
    assert issue.startswith("monitors[0].ca_file: cannot load")


def test_dot_and_doh_nameserver_forms(make_config: Callable[[str], Any], ca_file: Path) -> None:
    text = monitor(
        query="example.org", protocol="tls", nameservers=["1.1.1.1", "[2606:4700::1111]:8853"]
    )
    text += monitor(
        query="example.org",
        protocol="https",
        nameservers=["https://dns.example.test/dns-query", "9.9.9.9"],
        ca_file=str(ca_file),
    ).replace('id = "dns"', 'id = "doh"')
    config = make_config(text)
    assert config.monitors[0].options.nameservers == ("1.1.1.1", "[2606:4700::1111]:8853")
    assert DnsCheck().public_summary(config.monitors[0].options)["nameservers"] == [
        "1.1.1.1:853",
        "[2606:4700::1111]:8853",
    ]
    assert config.monitors[1].options.protocol == "https"


def test_doh_url_must_be_https(make_config: Callable[[str], Any]) -> None:
    text = monitor(
        query="example.org", protocol="https", nameservers=["http://dns.example.test/dns-query"]
    )
    [issue] = config_issues(make_config, text)
    assert issue.startswith("monitors[0].nameservers[0]: ")
    assert "must be an https:// URL" in issue


def test_second_monitor_errors_name_their_index(make_config: Callable[[str], Any]) -> None:
    text = monitor(query="example.org") + monitor(query="example.org", record_type="AXFR").replace(
        'id = "dns"', 'id = "dns2"'
    )
    [issue] = config_issues(make_config, text)
    assert issue.startswith("monitors[1].record_type: unsupported record type 'AXFR'")
