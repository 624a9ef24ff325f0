"""The ``feed`` check: a provider's public status feed (RSS or Atom), read for incidents.

An entry updated within ``max_age`` that does not say it is resolved is an open
incident: the monitor turns degraded (down when it matches ``down_when``) and the
entry's title is the message. Statuspage's ``history.atom`` puts an incident's
newest update first in the entry's body ("Resolved - This incident has been
resolved."), so the resolved words are looked for in the title and the head of the
body only; a word like "resolved" deeper in an ongoing incident's text says nothing.

Polling is cheap: the ``ETag``/``Last-Modified`` of each monitor's last answer is
remembered here and sent back, and a ``304 Not Modified`` re-judges the entries
remembered with it (so an incident still ages out of ``max_age`` between changes).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import datetime as dt
import html
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import httpx
from pydantic import BeforeValidator, Field, field_validator, model_validator

import uplight
from uplight import (
    CAFile,
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    Duration,
    client_ssl_context,
    hookimpl,
)

MAX_ENTRIES = 200  # entries remembered per monitor; a status feed shows a few dozen
_RESOLVED_HEAD = 120  # characters of an entry's body where its newest update is
_BODY_KEPT = 4000  # characters of an entry's body matched against down_when
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

T = TypeVar("T")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Words = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], BeforeValidator(_one_or_many)]


class FetchOptions(CheckOptions):
    """What every check reading a document over HTTP(S) shares: the URL and the trust."""

    url: str
    verify_tls: bool = True
    ca_file: CAFile | None = None
    max_body_bytes: int = Field(default=2 * 1_048_576, ge=1024, le=64 * 1_048_576)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            raise ValueError("is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host or " " in value:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _trust(self) -> FetchOptions:
        if not self.verify_tls and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify_tls = false: remove one of them")
        return self


class FetchFailed(Exception):
    """The document could not be had or read; ``str()`` is the operator's message."""


@dataclass(frozen=True, slots=True)
class _Remembered(Generic[T]):
    url: str
    etag: str | None
    last_modified: str | None
    parsed: T


class ConditionalFetcher(Generic[T]):
    """Fetches a document with the validators of its last answer, per monitor.

    Lives on the check type instance (one per process): a restart costs one full
    download per monitor, nothing more.
    """

    def __init__(self) -> None:
        self._memory: dict[str, _Remembered[T]] = {}

    async def get(
        self,
        monitor_id: str,
        url: str,
        options: FetchOptions,
        timeout: float,
        parse: Callable[[httpx.Response, bytes], T],
        accept: str,
    ) -> tuple[T, bool]:
        """The parsed document and whether it was unchanged (a 304); raises FetchFailed."""
        remembered = self._memory.get(monitor_id)
        if remembered is not None and remembered.url != url:
            remembered = None  # the config changed under this monitor
        headers = {"User-Agent": f"uplight/{uplight.__version__}", "Accept": accept}
        if remembered is not None:
            if remembered.etag:
                headers["If-None-Match"] = remembered.etag
            if remembered.last_modified:
                headers["If-Modified-Since"] = remembered.last_modified
        response, body = await _fetch(url, options, timeout, headers)
        if response.status_code == 304 and remembered is not None:
            return remembered.parsed, True
        if response.status_code != 200:
            self._memory.pop(monitor_id, None)
            reason = httpx.codes.get_reason_phrase(response.status_code) or "(unknown status)"
            raise FetchFailed(f"{_shown(url)} answered {response.status_code} {reason}")
        try:
            # A large feed takes feedparser a second or more: keep the event loop free.
            parsed = await asyncio.to_thread(parse, response, body)
        except FetchFailed:
            self._memory.pop(monitor_id, None)
            raise
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if etag or modified:
            self._memory[monitor_id] = _Remembered(url, etag, modified, parsed)
        else:
            self._memory.pop(monitor_id, None)
        return parsed, False


async def _fetch(
    url: str, options: FetchOptions, timeout: float, headers: dict[str, str]
) -> tuple[httpx.Response, bytes]:
    try:
        trust = client_ssl_context(verify=options.verify_tls, ca_file=options.ca_file)
    except (ssl.SSLError, OSError) as exc:  # the CA file changed since the config loaded
        raise FetchFailed(f"cannot load ca_file {options.ca_file}: {exc}") from None
    limit = options.max_body_bytes
    try:
        # httpx's timeout is per operation; the deadline bounds the whole exchange.
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(
                timeout=timeout,
                verify=trust,
                follow_redirects=True,
                max_redirects=10,
                trust_env=False,
            ) as client,
        ):
            async with client.stream("GET", url, headers=headers) as response:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchFailed(_too_large(url, limit))
                buffer = bytearray()
                async with contextlib.aclosing(response.aiter_bytes()) as chunks:
                    async for chunk in chunks:
                        buffer += chunk
                        if len(buffer) > limit:
                            raise FetchFailed(_too_large(url, limit))
    except (TimeoutError, httpx.TimeoutException):
        raise FetchFailed(f"timed out after {timeout:g}s fetching {_origin(url)}") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise FetchFailed(_describe_error(exc, url)) from None
    return response, bytes(buffer)


def _too_large(url: str, limit: int) -> str:
    return f"{_origin(url)} sent more than {_size(limit)} (max_body_bytes)"


def _size(count: int) -> str:
    if count % 1_048_576 == 0:
        return f"{count // 1_048_576} MiB"
    return f"{count // 1024} KiB" if count % 1024 == 0 else f"{count} bytes"


def _shown(url: str) -> str:
    # Userinfo and query strings are where tokens hide; leave both out of messages.
    return _origin(url) + httpx.URL(url).path


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def _describe_error(exc: BaseException, url: str) -> str:
    origin = _origin(url)
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects from {origin}"
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS error from {origin}: certificate verify failed: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            reason = (current.reason or "handshake failed").lower().replace("_", " ")
            return f"TLS error from {origin}: {reason}"
        if isinstance(current, socket.gaierror):
            return f"DNS lookup failed for {origin}: {current.strerror}"
        if isinstance(current, ConnectionRefusedError):
            return f"connection refused by {origin}"
        current = current.__cause__ or current.__context__
    return f"cannot fetch {origin}: {type(exc).__name__}"


# -- the feed ------------------------------------------------------------------------


class FeedOptions(FetchOptions):
    max_age: Duration = Field(default=3 * 86400.0, gt=0)
    resolved_when: Annotated[Words, Field(min_length=1)] = ("Resolved", "Completed", "Postmortem")
    down_when: Words = ()


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    text: str  # the body as plain text, bounded
    updated: dt.datetime | None  # None when the feed gives no date
    link: str


def parse_feed(response: httpx.Response, body: bytes) -> list[Entry]:
    """The entries of an RSS or Atom document; raises FetchFailed when it is neither."""
    # Imported here, in the worker thread, by the first feed read: 1 MB a server
    # without feed monitors should not carry.
    import feedparser

    # feedparser reads the charset from the header; without one it sniffs the XML.
    content_type = response.headers.get("Content-Type")
    parsed = feedparser.parse(
        body,
        response_headers={"content-type": content_type} if content_type else {},
        # Tags are stripped below and links not followed: skip the work (4x faster).
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    # A malformed feed with entries is still read (bozo), as feed readers do.
    if not parsed.entries and not parsed.version:
        problem = getattr(parsed, "bozo_exception", None)
        detail = _SPACE.sub(" ", str(problem))[:120] if problem else "no feed element"
        raise FetchFailed(f"not an RSS or Atom feed ({detail})")
    return [_entry(raw) for raw in parsed.entries[:MAX_ENTRIES]]


def _entry(raw: Any) -> Entry:
    content = raw.get("content") or []
    body = content[0].get("value", "") if content else raw.get("summary", "")
    text = _plain(str(body or ""))[:_BODY_KEPT]
    title = _plain(str(raw.get("title") or ""))[:1000] or "(untitled entry)"
    # dict.get: feedparser's own get() maps one date to the other, with a warning.
    stamp = dict.get(raw, "updated_parsed") or dict.get(raw, "published_parsed")
    updated = dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC) if stamp else None
    return Entry(title, text, updated, str(raw.get("link") or ""))


def _plain(markup: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def _words(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def judge_feed(
    entries: list[Entry],
    options: FeedOptions,
    now: dt.datetime,
    latency: float | None = None,
    **details: Any,
) -> CheckResult:
    resolved, down = _words(options.resolved_when), _words(options.down_when)
    since = now - dt.timedelta(seconds=options.max_age)
    recent = [e for e in entries if e.updated is None or e.updated >= since]
    open_ = [
        e
        for e in recent
        if not (resolved and resolved.search(f"{e.title} {e.text[:_RESOLVED_HEAD]}"))
    ]
    # Newest first, whatever order the feed used; undated entries last.
    open_.sort(key=lambda e: e.updated or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    details |= {"entries": len(recent), "unresolved_entries": len(open_)}
    if not open_:
        window = _duration(options.max_age)
        return CheckResult.up(f"no unresolved incident in the last {window}", latency, **details)
    severe = [e for e in open_ if down and down.search(f"{e.title} {e.text}")]
    lead = (severe or open_)[0]
    message = lead.title if len(lead.title) <= 200 else lead.title[:199] + "…"
    if len(open_) > 1:
        message += f" (+{len(open_) - 1} more)"
    details["link"] = lead.link
    if severe:
        return CheckResult.down(message, latency, **details)
    return CheckResult.degraded(message, latency, **details)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class FeedCheck(CheckType):
    name = "feed"
    Options = FeedOptions
    description = "a provider's RSS/Atom status feed: degraded while an incident is unresolved"
    metrics = (
        CheckMetric(
            "uplight_feed_unresolved_entries",
            "Unresolved incident entries in the status feed's recent window.",
            key="unresolved_entries",
        ),
    )

    def __init__(self) -> None:
        self._fetcher: ConditionalFetcher[list[Entry]] = ConditionalFetcher()

    async def check(self, options: FeedOptions, context: CheckContext) -> CheckResult:
        started = time.perf_counter()
        try:
            entries, unchanged = await self._fetcher.get(
                context.monitor_id,
                options.url,
                options,
                context.timeout,
                parse_feed,
                "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.1",
            )
        except FetchFailed as exc:
            return CheckResult.down(str(exc))
        latency = time.perf_counter() - started
        return judge_feed(entries, options, context.now, latency, not_modified=unchanged)

    def public_summary(self, options: FeedOptions) -> dict[str, Any]:
        url = httpx.URL(options.url)
        return {"url": f"{url.scheme}://{url.netloc.decode()}{url.path}"}


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(FeedCheck)
