"""The ``http`` check: one HTTP(S) request judged on status, body and latency.

Every check opens its own client and connection, so each result includes a fresh
connect (and TLS handshake) and never depends on the health of a pooled socket.
Network failures become ``down`` results with a short message; they never raise.

The TLS context is built once per trust policy (``client_ssl_context``); the client
itself costs about 50 µs of a check's 1-2 ms of CPU. A transport shared between
checks without keep-alive was measured no cheaper with 10 checks in flight and
dearer with 300 (httpcore's pool scans every open connection per request), and it
would give a same-origin redirect a new connection where a check's own client
reuses it, changing what the phases measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

import uplight
from uplight import (
    CAFile,
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    Duration,
    HttpHeaders,
    MetricTime,
    Secret,
    client_ssl_context,
    hookimpl,
)

from .http_cert import cert_details, cert_facts, cert_problem, peer_certificate
from .http_errors import MAX_REDIRECTS, describe_error
from .http_json import JsonAssertion, json_failure
from .tls_cert import CertFacts

_STATUS = re.compile(r"[1-5](\d\d|xx)")  # an exact code 100-599 or a class 1xx-5xx
# httpcore trace step -> what the operator reads in "timed out after 2s (...)"
_PHASE_NAMES = {
    "connect_tcp": "connect",
    "start_tls": "TLS handshake",
    "send_request_headers": "sending request",
    "send_request_body": "sending request",
    "receive_response_headers": "waiting for response",
    "receive_response_body": "reading body",
}
# step whose completion ends a phase -> (phase key in details, step whose start began it)
_MEASURED = {
    "connect_tcp": ("connect", "connect_tcp"),
    "start_tls": ("tls", "start_tls"),
    "receive_response_headers": ("ttfb", "send_request_headers"),
}
# Phase names become label values on /metrics, so only these known words are exported.
METRIC_PHASES = ("dns", "connect", "tls", "ttfb", "transfer")


def _one_or_many(value: Any) -> Any:
    # TOML users write `expect_status = 200` as often as `expect_status = [200]`.
    return [value] if isinstance(value, str | int) else value


def _status_pattern(value: Any) -> str:
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not _STATUS.fullmatch(text):
        raise ValueError(
            f"invalid status {value!r}: use a code from 100 to 599 such as 200, "
            'or a class such as "2xx"'
        )
    return text


def _compile_regex(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


StatusPattern = Annotated[str, BeforeValidator(_status_pattern)]
Keywords = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], BeforeValidator(_one_or_many)]
Method = Annotated[
    Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]


# A host name (httpx gives it back IDNA-decoded), an IPv4 address or an IPv6 literal.
_HOST = re.compile(r"\w(?:[\w.-]*\w)?\.?|[0-9A-Fa-f:.]+(?:%[\w.~-]+)?")


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: Secret


class HttpOptions(CheckOptions):
    url: str
    method: Method = "GET"
    headers: HttpHeaders = Field(default_factory=dict)
    body: str | None = None
    basic_auth: BasicAuth | None = None
    expect_status: Annotated[
        tuple[StatusPattern, ...], BeforeValidator(_one_or_many), Field(min_length=1)
    ] = ("2xx",)
    body_contains: Keywords = ()
    body_not_contains: Keywords = ()
    body_regex: Annotated[re.Pattern[str], BeforeValidator(_compile_regex)] | None = None
    expect_json: tuple[JsonAssertion, ...] = ()
    response_time_degraded: Duration | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    ca_file: CAFile | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1, le=64 * 1_048_576)
    cert_warn_days: int | None = Field(default=None, ge=0)
    cert_critical_days: int | None = Field(default=None, ge=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # The value itself stays out of the message: it may carry credentials.
        value = value.strip()
        # httpx quietly percent-encodes a space, even inside a host name: refuse it.
        if any(char.isspace() for char in value):
            raise ValueError("is not a valid URL: it contains white space (write a space as %20)")
        try:
            url = httpx.URL(value)
            port = url.port
        except httpx.InvalidURL:
            raise ValueError("is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        if not _HOST.fullmatch(url.host):
            raise ValueError("is not a valid URL: its host is not a name or an address")
        if port is not None and not 1 <= port <= 65535:
            raise ValueError("is not a valid URL: its port must be 1 to 65535")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpOptions:
        body_checks = self.body_contains or self.body_not_contains or self.body_regex
        if self.method == "HEAD" and (body_checks or self.expect_json):
            raise ValueError(
                "body_contains/body_not_contains/body_regex/expect_json need a method other than HEAD"
            )
        warn, critical = self.cert_warn_days, self.cert_critical_days
        if (warn is not None or critical is not None) and httpx.URL(self.url).scheme != "https":
            raise ValueError("cert_warn_days/cert_critical_days need an https:// url")
        if warn is not None and critical is not None and critical > warn:
            raise ValueError(
                f"cert_critical_days ({critical}) must not be more than cert_warn_days ({warn})"
            )
        if not self.verify_tls and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify_tls = false: remove one of them")
        if self.basic_auth is not None and httpx.URL(self.url).userinfo:
            raise ValueError("give credentials either in url or in basic_auth, not both")
        return self


class _Timings:
    """An httpcore ``trace`` callback: phase durations and the phase in progress."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.phases: dict[str, float] = {}
        self.current: str | None = None

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        parts = event.rsplit(".", 2)  # e.g. "connection.connect_tcp.started"
        if len(parts) != 3:
            return
        _, step, edge = parts
        now = time.perf_counter()
        if edge == "started":
            self.started[step] = now
            self.current = _PHASE_NAMES.get(step, self.current)
            return
        if edge != "complete":
            return  # a failed step stays current: it is what the timeout message names
        if self.current == _PHASE_NAMES.get(step):
            self.current = None
        key, since = _MEASURED.get(step, ("", ""))
        if since in self.started:
            # After a redirect the later request overwrites: phases describe the final answer.
            self.phases[key] = round(now - self.started[since], 6)


def _phase_seconds(phases: Any, time: MetricTime) -> dict[str, Any]:
    if not isinstance(phases, Mapping):
        return {}
    return {
        phase: seconds
        for phase, seconds in phases.items()
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0
    }


class HttpCheck(CheckType):
    name = "http"
    Options = HttpOptions
    description = "HTTP(S) request with status, body and latency expectations"
    metrics = (
        CheckMetric(
            "uplight_http_phase_duration_seconds",
            "Duration of each phase of the last HTTP check.",
            key="phases",
            read=_phase_seconds,
            labels={"phase": METRIC_PHASES},
        ),
    )

    async def check(self, options: HttpOptions, context: CheckContext) -> CheckResult:
        try:
            trust = _ssl_context(options.verify_tls, options.ca_file)
        except (ssl.SSLError, OSError) as exc:  # the CA file changed since the config loaded
            return CheckResult.down(f"cannot load ca_file {options.ca_file}: {exc}")
        timings = _Timings()
        started = time.perf_counter()
        limit = f"{context.timeout:g}s"
        try:
            # httpx's timeout is per operation; the deadline bounds the whole exchange.
            async with asyncio.timeout(context.timeout):
                response, body, der = await _fetch(options, trust, context.timeout, timings)
        except (TimeoutError, httpx.TimeoutException) as exc:
            phase = timings.current
            if phase is None and isinstance(exc, httpx.TimeoutException):
                phase = type(exc).__name__.removesuffix("Timeout").lower()  # ConnectTimeout
            return _down(f"timed out after {limit}", timings, phase)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return _down(describe_error(exc, options), timings)
        latency = time.perf_counter() - started
        return _judge(options, response, body, latency, timings, cert_facts(der))

    def public_summary(self, options: HttpOptions) -> dict[str, Any]:
        url = httpx.URL(options.url)
        # Userinfo and query strings are where tokens hide; leave both out.
        return {"url": f"{url.scheme}://{url.netloc.decode()}{url.path}", "method": options.method}


async def _fetch(
    options: HttpOptions, trust: ssl.SSLContext, timeout: float, timings: _Timings
) -> tuple[httpx.Response, bytes, bytes | None]:
    basic = options.basic_auth
    headers = {"User-Agent": f"uplight/{uplight.__version__}"}
    headers.update({k: v.get_secret_value() for k, v in options.headers.items()})
    async with httpx.AsyncClient(
        auth=(basic.username, basic.password.get_secret_value()) if basic else None,
        timeout=timeout,
        verify=trust,
        follow_redirects=options.follow_redirects,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,  # no proxy or .netrc from the environment: check the target itself
        # Most monitors configure no headers, and parsing the URL for the guard costs.
        event_hooks={"request": [_header_guard(list(options.headers))]} if options.headers else {},
    ) as client:
        request = client.build_request(
            options.method,
            options.url,
            headers=headers,
            content=options.body,
            extensions={"trace": timings},
        )
        response = await client.send(request, stream=True)
        try:
            der = peer_certificate(response)  # the connection is gone once the response closes
            body = await _read_limited(response, options.max_body_bytes)
        finally:
            await response.aclose()
    return response, body, der


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    # Read the body to time the whole answer, but never more than `limit` bytes.
    buffer = bytearray()
    async with contextlib.aclosing(response.aiter_bytes()) as chunks:
        async for chunk in chunks:
            buffer += chunk[: limit - len(buffer)]
            if len(buffer) >= limit:
                break
    return bytes(buffer)


def _ssl_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    return client_ssl_context(verify=verify, ca_file=ca_file)


def _header_guard(names: list[str]) -> Any:
    """Drop configured headers when a redirect leaves the origin, as httpx does for
    Authorization, so a credential header never reaches a third party."""
    origin: tuple[str, str, int | None] | None = None

    async def guard(request: httpx.Request) -> None:
        nonlocal origin
        url = request.url
        here = (url.scheme, url.host, url.port)
        if origin is None:  # the client's first request is the configured URL
            origin = here
        elif here != origin:
            for name in names:
                request.headers.pop(name, None)

    return guard


def _judge(
    options: HttpOptions,
    response: httpx.Response,
    body: bytes,
    latency: float,
    timings: _Timings,
    facts: CertFacts | None,
) -> CheckResult:
    code = response.status_code
    now = dt.datetime.now(dt.UTC)
    details = {"status_code": code, "phases": timings.phases}
    details |= {"redirects": len(response.history), "body_bytes_read": len(body)}
    details |= cert_details(facts, options.verify_tls, now)
    failure = (
        _status_failure(options, code)
        or _body_failure(options, response, body)
        or json_failure(options.expect_json, body, options.max_body_bytes)
    )
    if failure:
        return CheckResult.down(failure, latency, **details)
    problem = facts and cert_problem(facts, options.cert_warn_days, options.cert_critical_days, now)
    if problem:
        status, message = problem
        judged = CheckResult.down if status == "down" else CheckResult.degraded
        return judged(message, latency, **details)
    threshold = options.response_time_degraded
    if threshold is not None and latency > threshold:
        message = f"response took {latency:.3f}s (threshold {threshold:g}s)"
        return CheckResult.degraded(message, latency, **details)
    return CheckResult.up(f"{code} {_reason(code)} in {latency:.3f}s", latency, **details)


def _status_failure(options: HttpOptions, code: int) -> str | None:
    text = str(code)
    for pattern in options.expect_status:
        if pattern == text or (pattern.endswith("xx") and pattern[0] == text[0]):
            return None
    return f"expected status {', '.join(options.expect_status)}, got {code} {_reason(code)}"


def _body_failure(options: HttpOptions, response: httpx.Response, body: bytes) -> str | None:
    if not (options.body_contains or options.body_not_contains or options.body_regex):
        return None
    try:
        text = body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    for keyword in options.body_contains:
        if keyword not in text:
            return f"body does not contain {_short(keyword)!r}"
    for keyword in options.body_not_contains:
        if keyword in text:
            return f"body contains forbidden {_short(keyword)!r}"
    if options.body_regex is not None and not options.body_regex.search(text):
        return f"body does not match regex {_short(options.body_regex.pattern)!r}"
    return None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(code: int) -> str:
    return httpx.codes.get_reason_phrase(code) or "(unknown status)"


def _down(message: str, timings: _Timings, phase: str | None = None) -> CheckResult:
    details: dict[str, Any] = {"phases": timings.phases} if timings.phases else {}
    return CheckResult.down(f"{message} ({phase})" if phase else message, **details)


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(HttpCheck)
