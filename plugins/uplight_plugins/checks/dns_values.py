"""What a dns monitor's config says, and how answers compare with it.

The options model and the pure helpers it shares with the check: names,
nameservers, record values, and the words of the check's messages. Config
validation and answer comparison use the same functions, so a value accepted in
config is compared in exactly the form it was validated in. No network I/O here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from uplight import CAFile, CheckOptions, Duration

if TYPE_CHECKING:  # dnspython itself is imported where it is used (see dns.py)
    import dns.name
    import dns.rdata

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR")
DEFAULT_PORTS = {"udp": 53, "tcp": 53, "tls": 853, "https": 443}
DOH_PATH = "/dns-query"  # RFC 8484's example path, and what every public resolver serves
_BRACKETED = re.compile(r"\[([^\]]+)\](?::(.*))?")
_NAMESERVER_FORMS = '"192.168.1.2", "192.168.1.2:5353" or "[2001:db8::53]:53"'
SHOWN_VALUES = 3  # answers quoted in a success message before "…"


# -- the options model------------------------------------------------------------------


def parse_record_type(value: Any) -> str:
    if isinstance(value, str) and value.strip().upper() in RECORD_TYPES:
        return value.strip().upper()
    raise ValueError(f"unsupported record type {value!r}: use one of {', '.join(RECORD_TYPES)}")


def parse_rcode(value: Any) -> str:
    import dns.rcode

    text = value.strip().upper() if isinstance(value, str) else ""
    try:
        if not text.isalpha():  # names only: "3" for NXDOMAIN helps no reader
            raise dns.rcode.UnknownRcode
        return dns.rcode.to_text(dns.rcode.from_text(text))
    except dns.rcode.UnknownRcode:
        raise ValueError(
            f"unknown rcode {value!r}: use a name such as NOERROR, NXDOMAIN, SERVFAIL or REFUSED"
        ) from None


Protocol = Literal["udp", "tcp", "tls", "https"]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value  # `expect_values = "10.0.0.1"` too


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _nameserver(value: str, info: ValidationInfo) -> str:
    parse_nameserver(value, info.data.get("protocol", "udp"))  # default ports depend on it
    return value.strip()


def _expected(value: str, info: ValidationInfo) -> str:
    return check_expected(value, info.data.get("record_type"))


# Per-item validators, so an error's path names the item: nameservers[1].
Nameserver = Annotated[str, AfterValidator(_nameserver)]
Values = Annotated[
    tuple[Annotated[str, AfterValidator(_expected)], ...], BeforeValidator(_one_or_many)
]


class DnsOptions(CheckOptions):
    # record_type and protocol come first: later validators read them from info.data.
    record_type: Annotated[str, BeforeValidator(parse_record_type)] = "A"
    query: str
    protocol: Annotated[Protocol, BeforeValidator(_lower)] = "udp"
    nameservers: Annotated[tuple[Nameserver, ...], BeforeValidator(_one_or_many)] | None = None
    expect_rcode: Annotated[str, BeforeValidator(parse_rcode)] = "NOERROR"
    expect_values: Values = ()
    expect_exact: Values | None = None
    min_answers: int | None = Field(None, ge=0)
    response_time_degraded: Duration | None = None
    ca_file: CAFile | None = None
    tls_hostname: str | None = None

    @field_validator("query")
    @classmethod
    def _valid_query(cls, value: str, info: ValidationInfo) -> str:
        text = value.strip()
        record_type = info.data.get("record_type")
        if is_ip(text):
            if record_type in ("PTR", None):
                return text
            raise ValueError(f'{text!r} is an IP address: use record_type = "PTR" to look it up')
        check_name(text)
        return text

    @field_validator("nameservers")
    @classmethod
    def _some_nameservers(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value == ():
            raise ValueError(
                "list at least one nameserver, or leave the key out for the system resolver"
            )
        return value

    @field_validator("tls_hostname")
    @classmethod
    def _valid_hostname(cls, value: str | None) -> str | None:
        if value is not None:
            check_name(value.strip())
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> DnsOptions:
        if self.protocol in ("tls", "https") and self.nameservers is None:
            raise ValueError(f'protocol = "{self.protocol}" needs nameservers to ask')
        if self.ca_file is not None and self.protocol not in ("tls", "https"):
            raise ValueError('ca_file is only used with protocol = "tls" or "https"')
        if self.tls_hostname is not None and self.protocol != "tls":
            raise ValueError('tls_hostname is only used with protocol = "tls"')
        wants_answers = self.expect_values or self.expect_exact or self.min_answers
        if wants_answers and self.expect_rcode != "NOERROR":
            raise ValueError(
                'expect_values, expect_exact and min_answers need expect_rcode = "NOERROR"'
            )
        if self.expect_exact == () and self.min_answers:
            raise ValueError("expect_exact = [] (no answers) contradicts min_answers")
        return self

    @property
    def required_answers(self) -> int:
        """min_answers, or by default: at least one answer when NOERROR is expected."""
        if self.min_answers is not None:
            return self.min_answers
        if self.expect_rcode != "NOERROR" or self.expect_exact == ():
            return 0
        return 1


# -- names -----------------------------------------------------------------------------


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_name(text: str) -> None:
    """Raise ValueError (with a reason a TOML author can act on) unless ``text`` is a name."""
    import dns.exception
    import dns.name

    if not text:
        raise ValueError("must not be empty")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(
            f"{text!r} is not a valid DNS name: it contains spaces or control characters"
        )
    try:
        dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError) as exc:
        reason = str(exc).rstrip(".") or type(exc).__name__
        raise ValueError(
            f"{text!r} is not a valid DNS name: {reason[0].lower()}{reason[1:]}"
        ) from None


def query_name(text: str, record_type: str) -> dns.name.Name:
    """The name asked on the wire: a PTR query for an IP asks for its reverse name."""
    import dns.name
    import dns.reversename

    if record_type == "PTR" and is_ip(text):
        return dns.reversename.from_address(text)
    return dns.name.from_text(text)


# -- nameservers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One nameserver to ask: an IP and port, plus the URL for DNS over HTTPS."""

    address: str  # an IP address, or the host of a DoH URL
    port: int
    label: str  # how messages name this server: "192.168.1.2:53" or a DoH URL
    url: str | None = None  # DoH only: where the query is POSTed


def parse_nameserver(text: str, protocol: str) -> Endpoint:
    """Parse "IP", "IP:port", "[IPv6]:port", or (for https) a DoH URL; ValueError if bad."""
    text = text.strip()
    if "://" in text:
        return _parse_doh_url(text, protocol)
    host, port_text = _split_port(text)
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an IP address: give nameservers as {_NAMESERVER_FORMS}"
        ) from None
    port = _port(port_text) if port_text is not None else DEFAULT_PORTS[protocol]
    if protocol == "https":
        url = f"https://{host_port(address, port)}{DOH_PATH}"
        return Endpoint(address, port, url, url)
    return Endpoint(address, port, host_port(address, port))


def _split_port(text: str) -> tuple[str, str | None]:
    if match := _BRACKETED.fullmatch(text):
        return match.group(1), match.group(2)
    if text.count(":") == 1:  # IPv4 with a port; IPv6 has several colons and needs brackets
        host, port = text.split(":")
        return host, port
    return text, None


def _port(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"invalid port {text!r}: use a number from 1 to 65535")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1-65535)")
    return port


def _parse_doh_url(text: str, protocol: str) -> Endpoint:
    if protocol != "https":
        raise ValueError(
            f'{text!r} is a URL: URLs are for protocol = "https"; '
            f"other protocols take {_NAMESERVER_FORMS}"
        )
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise ValueError(f"{text!r} is not a valid URL") from None
    if url.scheme != "https" or not url.host:
        raise ValueError(f"{text!r} must be an https:// URL with a host")
    port = url.port or DEFAULT_PORTS["https"]
    host = f"[{url.host}]" if ":" in url.host else url.host
    # Userinfo and query strings are where tokens hide: keep them out of every message.
    label = f"https://{host}{f':{url.port}' if url.port else ''}{url.path}"
    return Endpoint(url.host, port, label, text)


# -- values ----------------------------------------------------------------------------


def check_expected(value: str, record_type: str | None) -> str:
    """Validate one expected value for ``record_type``; return it stripped."""
    text = value.strip()
    if not text:
        raise ValueError("values must not be empty")
    if record_type in ("A", "AAAA"):
        version = 4 if record_type == "A" else 6
        try:
            ok = ipaddress.ip_address(text).version == version
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{text!r} is not an IPv{version} address (record_type {record_type})")
    elif record_type == "MX":
        parts = text.split()
        preference_ok = len(parts) == 1 or (parts[0].isdigit() and int(parts[0]) <= 65535)
        if len(parts) > 2 or not preference_ok:
            raise ValueError(
                f'{text!r}: an MX value is "10 mail.example.org" or "mail.example.org"'
            )
        check_name(parts[-1])
    return text


def normalise(text: str) -> str:
    """One comparable form: case, quotes, trailing dots and IPv6 spelling do not matter."""
    return " ".join(_token(token) for token in text.replace('"', " ").lower().split())


def _token(token: str) -> str:
    try:
        return ipaddress.ip_address(token).compressed
    except ValueError:
        return token.rstrip(".") or token


def answer_forms(rdata: dns.rdata.Rdata) -> set[str]:
    """Every normalised spelling an expected value may use for this record."""
    import dns.rdatatype

    forms = {normalise(rdata.to_text())}
    if rdata.rdtype == dns.rdatatype.MX:
        forms.add(normalise(rdata.exchange.to_text()))  # the preference may be left out
    elif rdata.rdtype == dns.rdatatype.TXT:
        # A long TXT record is split in 255-byte strings; people write it joined.
        forms.add(normalise(b"".join(rdata.strings).decode("utf-8", errors="replace")))
    return forms


def missing(expected: Iterable[str], answers: Sequence[dns.rdata.Rdata]) -> list[str]:
    """Expected values that no answer matches."""
    forms = [answer_forms(rdata) for rdata in answers]
    return [value for value in expected if not any(normalise(value) in f for f in forms)]


def unexpected(expected: Iterable[str], answers: Sequence[dns.rdata.Rdata]) -> list[str]:
    """Answers (as text) that no expected value matches."""
    wanted = {normalise(value) for value in expected}
    return [rdata.to_text() for rdata in answers if not answer_forms(rdata) & wanted]


def answers_failure(
    expect_values: Sequence[str],
    expect_exact: Sequence[str] | None,
    required: int,
    record_type: str,
    answers: Sequence[dns.rdata.Rdata],
) -> str | None:
    """Why the answers of a NOERROR response fail the expectations, or None."""
    got = values_text(answers) or "no answers"
    if len(answers) < required:
        if not answers:
            return (
                f"NOERROR but no {record_type} records (NODATA); "
                "set min_answers = 0 if that is expected"
            )
        return f"expected at least {required} answers, got {len(answers)}: {got}"
    if lost := missing(expect_values, answers):
        return f"missing {', '.join(lost)}; got {got}"
    if expect_exact is None:
        return None
    lost, extra = missing(expect_exact, answers), unexpected(expect_exact, answers)
    if not (lost or extra):
        return None
    diff = [f"missing {', '.join(lost)}"] if lost else []
    diff += [f"unexpected {', '.join(extra)}"] if extra else []
    wanted = ", ".join(expect_exact) or "no answers"
    return f"expected exactly {wanted}; got {got} ({'; '.join(diff)})"


# -- message words ---------------------------------------------------------------------


class DohStatusError(Exception):
    """A DoH server answered with an HTTP error instead of a DNS message."""


def describe(exc: BaseException, label: str, timeout: float) -> str:
    """One line for an attempt that got no DNS answer from ``label``."""
    import dns.exception

    for cause in _chain(exc):
        if isinstance(cause, TimeoutError | dns.exception.Timeout | httpx.TimeoutException):
            return f"no answer from {label} within {seconds(timeout)}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error with {label}: certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            reason = (cause.reason or "handshake failed").lower().replace("_", " ")
            return f"TLS error with {label}: {reason}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {label}"
        if isinstance(cause, EOFError):
            return f"{label} closed the connection without an answer"
        if isinstance(cause, DohStatusError):
            return str(cause)
        if isinstance(cause, dns.exception.DNSException):
            return f"invalid DNS response from {label}: {sentence(str(cause))}"
        if isinstance(cause, OSError) and cause.errno:
            return f"cannot reach {label}: {os.strerror(cause.errno).lower()}"
    return f"query to {label} failed: {type(exc).__name__}: {sentence(str(exc))}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def answers_summary(rcode: str, answers: Sequence[dns.rdata.Rdata]) -> str:
    """ "NOERROR, 2 answers (10.0.0.1, 10.0.0.2)" """
    if rcode != "NOERROR":
        return f"{rcode} as expected"
    if not answers:
        return f"{rcode}, no answers"
    count = f"{len(answers)} answer{'s' if len(answers) != 1 else ''}"
    return f"{rcode}, {count} ({values_text(answers, SHOWN_VALUES)})"


def values_text(answers: Sequence[dns.rdata.Rdata], limit: int | None = None) -> str:
    texts = [rdata.to_text() for rdata in answers]
    if limit is not None and len(texts) > limit:
        return ", ".join(texts[:limit]) + ", …"
    return ", ".join(texts)


def host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def seconds(value: float) -> str:
    millis = round(value * 1000)  # a share of 0.99999s of a 1s timeout reads "1s"
    return f"{millis}ms" if millis < 1000 else f"{round(value, 2):g}s"


def sentence(text: str) -> str:
    """dnspython messages are sentences ("The DNS packet ... too short."): fit them in ours."""
    text = " ".join(text.split()).rstrip(".")  # some arrive wrapped over lines
    first = text.split(" ", 1)[0]
    return text if first.isupper() else text[:1].lower() + text[1:]  # keep "DNS ..." as is
