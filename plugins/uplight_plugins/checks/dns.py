"""The ``dns`` check: ask one question, judge the rcode, the answers and the time taken.

With ``nameservers`` the check asks them directly (UDP with TCP fallback, TCP, DNS
over TLS or DNS over HTTPS), in order, moving on when one times out, fails or
answers SERVFAIL/REFUSED, as a stub resolver would. Without, it asks the system
resolver configured in /etc/resolv.conf. Failures become ``down`` results with a
message naming the question and the server; they never raise.

dnspython (2 MB of a process) is imported by the first DNS check or DNS options
read, not when the plugin registers: a config without DNS monitors never loads it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

import uplight
from uplight import (
    CheckContext,
    CheckMetric,
    CheckResult,
    CheckType,
    MetricTime,
    client_ssl_context,
    hookimpl,
)

from .dns_values import (
    DnsOptions,
    DohStatusError,
    Endpoint,
    answers_failure,
    answers_summary,
    describe,
    host_port,
    is_ip,
    parse_nameserver,
    query_name,
    seconds,
    sentence,
)

__all__ = ["DnsCheck", "DnsOptions", "uplight_check_types"]

EDNS_PAYLOAD = 1232  # the DNS Flag Day 2020 size: big answers fit, fragments are avoided
MAX_DOH_BYTES = 65535  # the largest DNS message there is
if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.message
    import dns.name

# Answers a stub resolver does not accept: try the next nameserver instead.
_RETRY_RCODES = {"SERVFAIL", "REFUSED", "NOTIMP", "FORMERR"}
_HTTP2 = importlib.util.find_spec("h2") is not None  # some DoH servers (Unbound) speak only h2


@dataclass
class _Outcome:
    """What the nameservers said: the response judged, and what went wrong on the way."""

    response: dns.message.Message | None
    server: str  # who gave ``response`` (or was asked last)
    failures: list[str] = field(default_factory=list)
    via_tcp: bool = False


def _answer_count(value: Any, time: MetricTime) -> int | None:
    # Untrusted (read from any check type's details): a whole, non-negative number only.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if value >= 0 else None


class DnsCheck(CheckType):
    name = "dns"
    Options = DnsOptions
    description = "DNS query with rcode, answer and latency expectations (UDP, TCP, DoT, DoH)"
    metrics = (
        # Every check type's answer_count: a plugin that reports one is read too.
        CheckMetric(
            "uplight_dns_answer_count",
            "Records in the last DNS answer.",
            key="answer_count",
            read=_answer_count,
            all_check_types=True,
        ),
    )

    async def check(self, options: DnsOptions, context: CheckContext) -> CheckResult:
        qname = query_name(options.query, options.record_type)
        try:
            trust = _tls_context(options.ca_file, options.protocol)
        except (ssl.SSLError, OSError) as exc:  # the CA file changed since the config loaded
            return CheckResult.down(f"cannot load ca_file {options.ca_file}: {exc}")
        started = time.perf_counter()
        if options.nameservers:
            outcome = await _ask_nameservers(options, qname, context.timeout, trust)
        else:
            outcome = await _ask_system(options, qname, context.timeout)
        return _judge(options, qname, outcome, time.perf_counter() - started)

    def public_summary(self, options: DnsOptions) -> dict[str, Any]:
        servers = [parse_nameserver(t, options.protocol).label for t in options.nameservers or ()]
        return {
            "query": options.query,
            "record_type": options.record_type,
            "protocol": options.protocol,
            "nameservers": servers or "system",
        }


# -- asking ----------------------------------------------------------------------------


async def _ask_nameservers(
    options: DnsOptions, qname: dns.name.Name, timeout: float, trust: ssl.SSLContext | None
) -> _Outcome:
    endpoints = [parse_nameserver(text, options.protocol) for text in options.nameservers or ()]
    deadline = time.monotonic() + timeout
    failures: list[str] = []
    kept: _Outcome | None = None
    for index, endpoint in enumerate(endpoints):
        # Each server gets a fair share of what is left, so a dead first server
        # cannot use up the whole timeout.
        share = (deadline - time.monotonic()) / (len(endpoints) - index)
        try:
            response, via_tcp = await _query(options, qname, endpoint, share, trust)
        except Exception as exc:  # every failure is a message; nothing escapes the check
            failures.append(describe(exc, endpoint.label, share))
            continue
        if kept is not None:
            failures.append(f"{kept.server} answered {_rcode_text(kept.response)}")
        kept = _Outcome(response, endpoint.label, via_tcp=via_tcp)
        rcode = _rcode_text(response)
        if rcode not in _RETRY_RCODES or rcode == options.expect_rcode:
            break
    if kept is None:
        return _Outcome(None, endpoints[-1].label, failures)
    kept.failures = failures
    return kept


async def _query(
    options: DnsOptions,
    qname: dns.name.Name,
    endpoint: Endpoint,
    timeout: float,
    trust: ssl.SSLContext | None,
) -> tuple[dns.message.Message, bool]:
    import dns.asyncquery
    import dns.message

    query = dns.message.make_query(qname, options.record_type, use_edns=0, payload=EDNS_PAYLOAD)
    address, port = endpoint.address, endpoint.port
    # dnspython enforces the timeout itself; this bounds TCP fallback and DoH as a whole.
    async with asyncio.timeout(timeout):
        if options.protocol == "udp":
            return await dns.asyncquery.udp_with_fallback(query, address, timeout, port)
        if options.protocol == "tcp":
            return await dns.asyncquery.tcp(query, address, timeout, port), False
        assert trust is not None  # built for tls and https
        if options.protocol == "tls":
            hostname = options.tls_hostname or address  # an IP is checked against IP SANs
            return await dns.asyncquery.tls(
                query, address, timeout, port, ssl_context=trust, server_hostname=hostname
            ), False
        return await _doh(query, endpoint, timeout, trust), False


async def _doh(
    query: dns.message.Message, endpoint: Endpoint, timeout: float, trust: ssl.SSLContext
) -> dns.message.Message:
    """RFC 8484 POST over httpx (dnspython's own DoH needs the httpx2 package)."""
    import dns.exception
    import dns.message

    query.id = 0  # RFC 8484 §4.1: ID 0 keeps answers cacheable
    headers = {
        "accept": "application/dns-message",
        "content-type": "application/dns-message",
        "user-agent": f"uplight/{uplight.__version__}",
    }
    url = endpoint.url or endpoint.label
    async with (
        httpx.AsyncClient(verify=trust, timeout=timeout, http2=_HTTP2, trust_env=False) as client,
        client.stream("POST", url, content=query.to_wire(), headers=headers) as response,
    ):
        if response.status_code != 200:
            raise DohStatusError(f"{endpoint.label} answered HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOH_BYTES:
                raise dns.exception.FormError("response is larger than any DNS message")
    answer = dns.message.from_wire(bytes(body))
    if not query.is_response(answer):
        raise dns.exception.FormError("the answer is for another question")
    return answer


async def _ask_system(options: DnsOptions, qname: dns.name.Name, timeout: float) -> _Outcome:
    import dns.resolver

    try:
        resolver = _system_resolver()
    except dns.resolver.NoResolverConfiguration:
        return _Outcome(
            None, "system resolver", ["no nameserver in /etc/resolv.conf: set nameservers"]
        )
    label = _system_label(resolver)
    try:
        async with asyncio.timeout(timeout):
            answer = await resolver.resolve(
                qname,
                options.record_type,
                tcp=options.protocol == "tcp",
                raise_on_no_answer=False,  # NODATA is judged by min_answers, not raised
                lifetime=timeout,
                search=False,
            )
    except dns.resolver.NXDOMAIN as exc:
        response = exc.kwargs["responses"].get(qname)
        return _Outcome(response, label, [] if response else ["NXDOMAIN without a response"])
    except dns.resolver.NoNameservers as exc:
        return _from_resolver_errors(exc.kwargs.get("errors", []), label, timeout)
    except Exception as exc:  # every failure is a message; nothing escapes the check
        return _Outcome(None, label, [describe(exc, label, timeout)])
    return _Outcome(answer.response, host_port(str(answer.nameserver), answer.port or 53))


def _system_resolver() -> dns.asyncresolver.Resolver:
    # Read on every check: DHCP or a VPN may rewrite /etc/resolv.conf at any time.
    import dns.asyncresolver

    return dns.asyncresolver.Resolver()


def _system_label(resolver: dns.asyncresolver.Resolver) -> str:
    servers = ", ".join(
        host_port(ns, resolver.port)
        if isinstance(ns, str)
        else host_port(str(ns.answer_nameserver()), ns.answer_port())  # DoH/DoT in resolv.conf
        for ns in resolver.nameservers
    )
    return f"system resolver ({servers})"


def _from_resolver_errors(errors: list[Any], label: str, timeout: float) -> _Outcome:
    """NoNameservers lists (server, tcp, port, error, response) per attempt: judge the
    last real answer (e.g. SERVFAIL), else report what went wrong."""
    for server, _tcp, port, _error, response in reversed(errors):
        if response is not None:
            return _Outcome(response, host_port(str(server), port))
    failures = [
        describe(error, host_port(str(server), port), timeout)
        if isinstance(error, BaseException)
        else f"{host_port(str(server), port)}: {error}"
        for server, _tcp, port, error, _response in errors
    ]
    return _Outcome(None, label, failures or ["no nameserver answered"])


# -- judging ---------------------------------------------------------------------------


def _judge(
    options: DnsOptions, qname: dns.name.Name, outcome: _Outcome, latency: float
) -> CheckResult:
    import dns.exception

    name = qname.to_text(omit_final_dot=True)
    details: dict[str, Any] = {
        "query": name,
        "record_type": options.record_type,
        "nameserver": outcome.server,
        "protocol": options.protocol,
        "rcode": None,
        "answers": [],
        "answer_count": None,  # no answer is not "0 answers": the metric stays absent
    }
    # "PTR 192.0.2.1" says more to the operator than its in-addr.arpa name.
    asked = f"{options.record_type} {options.query if is_ip(options.query) else name}"
    if outcome.response is None:
        return CheckResult.down(f"{asked}: {'; '.join(outcome.failures)}", **details)
    asked += f" @{outcome.server}"
    after = f" (other nameservers: {'; '.join(outcome.failures)})" if outcome.failures else ""
    try:
        chain = outcome.response.resolve_chaining()
    except dns.exception.DNSException as exc:
        message = f"{asked}: invalid DNS response from {outcome.server}: {sentence(str(exc))}"
        return CheckResult.down(message + after, latency, **details)
    answers = list(chain.answer or ())
    rcode = _rcode_text(outcome.response)
    details["rcode"] = rcode
    ttl = chain.answer.ttl if chain.answer is not None else None
    details["answers"] = [{"value": a.to_text(), "ttl": ttl} for a in answers]
    details["answer_count"] = len(answers)
    if rcode != options.expect_rcode:
        hint = " (the name does not exist)" if rcode == "NXDOMAIN" else ""
        failure: str | None = f"expected {options.expect_rcode}, got {rcode}{hint}"
    else:
        failure = answers_failure(
            options.expect_values,
            options.expect_exact,
            options.required_answers,
            options.record_type,
            answers,
        )
    if failure:
        return CheckResult.down(f"{asked}: {failure}{after}", latency, **details)
    summary = f"{asked}: {answers_summary(rcode, answers)} in {seconds(latency)}"
    summary += " via TCP (UDP answer truncated)" if outcome.via_tcp else ""
    threshold = options.response_time_degraded
    if threshold is not None and latency > threshold:
        message = f"{summary}, slower than {seconds(threshold)}{after}"
        return CheckResult.degraded(message, latency, **details)
    return CheckResult.up(summary + after, latency, **details)


def _rcode_text(response: dns.message.Message | None) -> str:
    import dns.rcode

    return dns.rcode.to_text(response.rcode()) if response is not None else "nothing"


# -- TLS -------------------------------------------------------------------------------


def _tls_context(ca_file: Path | None, protocol: str) -> ssl.SSLContext | None:
    if protocol not in ("tls", "https"):
        return None
    return client_ssl_context(
        ca_file=ca_file,
        alpn=("dot",) if protocol == "tls" else (),  # httpx sets its own ALPN for DoH
        minimum_version=ssl.TLSVersion.TLSv1_2,  # RFC 8310 asks DoT for TLS 1.2+
    )


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(DnsCheck)
