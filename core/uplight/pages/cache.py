"""The public page cache: each page's snapshot computed at most once per TTL.

Per page (keyed by slug) and per incident permalink (keyed by the page it is
shown on, its id and the part of its timeline shown: the same incident reads
differently on two pages) an entry holds the latest snapshot and the bytes each
renderer made of it. Rules:

- Fresh for ``ttl`` seconds (``public.cache_ttl``, 10 s by default; 0 turns
  the cache off: every request computes, though concurrent ones still share).
- Single-flight: when an entry is stale, one task computes and every
  concurrent request awaits that task. The task is not the first caller's, so a
  visitor who disconnects does not cancel the others' result.
- Last-known-good: when a compute raises, callers get the previous snapshot
  (counted as ``stale_served``), and nothing recomputes until ``failure_backoff``
  (1 s) has passed, so a failing database is not asked once per request. With
  no previous snapshot, :class:`SnapshotUnavailable` (the routes answer 503).
- Rendered bodies are cached on the snapshot they came from, per renderer and
  parameters, with a strong ETag from a hash of the uncompressed bytes (the
  gzip variant's ETag ends in ``-gz``); gzip is done once per body. A body
  rendered for gzip is kept compressed only; its plain bytes are kept once a
  caller without gzip asks for them (then rendered again, once per snapshot).
- The serving paths render with :meth:`Cached.render`: the render and the gzip
  run in uplight's one worker thread (:mod:`uplight.memory`), never on the event loop (a page
  of 1,000 components takes a few hundred milliseconds), and concurrent requests
  for the same body share one render. This is safe because a snapshot is
  immutable data (frozen dataclasses and tuples) that nothing changes after the
  compute; the thread only reads it and returns new bytes, which the loop stores.
  One thread, shared with ``/metrics``, not the default pool: renders are CPU
  work that cannot run in parallel under the GIL anyway, and each extra thread
  may keep its own malloc arena of freed render buffers (the worker trims the
  heap when it falls idle).
- Admin writes (pages, incidents, maintenance) show within one TTL; routes may
  call :meth:`PageCache.invalidate` to show them at once.

Counters per page (``stats()``, exported by ``uplight.metrics``): ``hits``
(served fresh), ``misses`` (requests that waited for a compute), ``stale_served``,
``compute_errors``, ``computes`` and ``compute_seconds_total`` (failed computes
included). Incident permalinks share one set of counters under ``_incidents``,
a key no slug can take.
"""

from __future__ import annotations

import asyncio
import functools
import gzip as gzip_module
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar, Unpack

from ..memory import in_worker
from ..renderers import Renderer, RenderParams
from ..snapshot import IncidentPage, PageSnapshot

log = logging.getLogger(__name__)

INCIDENTS_KEY = "_incidents"  # slugs are [a-z0-9-]: this never names a page
FAILURE_BACKOFF = 1.0
MAX_INCIDENT_ENTRIES = 256  # ids come from URLs: bound what visitors can make us hold
MAX_BODY_VARIANTS = 32  # per snapshot: renderers, parameter sets, identity or gzip
GZIP_LEVEL = 6

T = TypeVar("T", PageSnapshot, IncidentPage)
R = TypeVar("R")


async def off_loop(fn: Callable[..., R], /, *args: Any) -> R:
    """``fn(*args)`` in the worker thread while the event loop goes on: for pure CPU
    work on data no other code changes meanwhile (a render, a snapshot's shaping).
    The same one thread as renders, for the reasons above: no parallelism to gain
    under the GIL, and no extra malloc arena."""
    return await in_worker(fn, *args)


class SnapshotUnavailable(Exception):
    """No snapshot can be served: the compute failed and there is none from before."""


class SnapshotSource(Protocol):
    """What the cache computes from; :class:`uplight.pages.PageService` is one."""

    def resolve(self, slug: str | None = None, host: str | None = None) -> str | None: ...

    def slugs(self) -> list[str]: ...

    async def page_snapshot(self, slug: str) -> PageSnapshot | None: ...

    async def incident_page(
        self, incident_id: int, slug: str, *, before: int | None = None
    ) -> IncidentPage | None: ...


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str  # strong, quoted: '"<hash>"', or '"<hash>-gz"' for the gzip variant
    gzipped: bool
    max_age: int  # seconds, for Cache-Control: public, max-age=<max_age>


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    compute_errors: int = 0
    computes: int = 0
    compute_seconds_total: float = 0.0

    def copy(self) -> CacheStats:
        return replace(self)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _param_key(value: Any) -> Hashable:
    # Callables (asset_url) are keyed by identity: pass the same object on every
    # request, or each request renders anew (still correct, bounded by MAX_BODY_VARIANTS).
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


class Cached(Generic[T]):
    """One computed snapshot and the bodies rendered from it."""

    def __init__(
        self,
        subject: T,
        *,
        max_age: int,
        computed_at: float,
        renderers: Mapping[str, Renderer] | None = None,
    ) -> None:
        self.subject = subject
        self.max_age = max_age
        self.computed_at = computed_at  # on the cache's clock
        self._renderers = renderers or {}
        self._bodies: dict[Hashable, Rendered] = {}
        self._pending: dict[Hashable, asyncio.Future[tuple[Rendered, Rendered | None]]] = {}

    def body(
        self, renderer: Renderer | str, *, gzip: bool = False, **params: Unpack[RenderParams]
    ) -> Rendered:
        """``renderer.render(subject, **params)``, rendered once per snapshot; with
        ``gzip`` the gzip-compressed variant (compressed once, deterministic bytes).

        ``renderer`` is a renderer or the name of one the cache was given. Renders
        on the calling thread: the serving paths use :meth:`render`.
        """
        renderer = self._renderer(renderer)
        key = _body_key(renderer, params)
        found = self._bodies.get((key, gzip))
        if found is not None:
            return found
        plain, packed = self._make(renderer, self._bodies.get((key, False)), gzip, params)
        return self._store(key, plain, packed)

    async def render(
        self, renderer: Renderer | str, *, gzip: bool = False, **params: Unpack[RenderParams]
    ) -> Rendered:
        """:meth:`body`, with a body not made yet rendered (and gzipped) in the worker
        thread while the event loop goes on; concurrent callers share that render."""
        renderer = self._renderer(renderer)
        key = _body_key(renderer, params)
        found = self._bodies.get((key, gzip))
        if found is not None:
            return found
        # The gzip variant's render makes the plain body too: wait for it rather than
        # render the same bytes twice.
        pending = self._pending.get((key, gzip)) or self._pending.get((key, True))
        if pending is None:
            plain = self._bodies.get((key, False))
            pending = in_worker(self._make, renderer, plain, gzip, params)
            self._pending[(key, gzip)] = pending
            pending.add_done_callback(functools.partial(self._rendered, key, gzip))
        # Shielded: a visitor gone must not cancel the render the others wait for.
        plain, packed = await asyncio.shield(pending)
        return self._store(key, plain, packed if gzip else None)

    def _rendered(
        self, key: Hashable, gzip: bool, done: asyncio.Future[tuple[Rendered, Rendered | None]]
    ) -> None:
        # Stored before any waiter resumes, so a request arriving in between finds it.
        del self._pending[(key, gzip)]
        if not done.cancelled() and done.exception() is None:
            plain, packed = done.result()
            self._store(key, plain, packed if gzip else None)

    def _renderer(self, renderer: Renderer | str) -> Renderer:
        if not isinstance(renderer, str):
            return renderer
        found = self._renderers.get(renderer)
        if found is None:
            raise KeyError(f"no renderer named {renderer!r}")
        return found

    def _make(
        self, renderer: Renderer, plain: Rendered | None, gzip: bool, params: RenderParams
    ) -> tuple[Rendered, Rendered | None]:
        # Pure: reads the immutable subject and returns new values (the worker thread
        # runs it); only the event loop stores them, in _store.
        if plain is None:
            data = renderer.render(self.subject, **params)
            if not isinstance(data, bytes):
                raise TypeError(f"renderer {renderer.name!r} returned {type(data).__name__}")
            plain = Rendered(data, renderer.media_type, etag_of(data), False, self.max_age)
        if not gzip:
            return plain, None
        data = gzip_module.compress(plain.body, compresslevel=GZIP_LEVEL, mtime=0)
        packed = Rendered(data, plain.media_type, plain.etag[:-1] + '-gz"', True, self.max_age)
        return plain, packed

    def _store(self, key: Hashable, plain: Rendered, packed: Rendered | None) -> Rendered:
        # The first stored wins, so every caller of one snapshot gets the same object.
        if packed is None:
            return self._keep((key, False), plain)
        # Given the gzip variant, the plain body (four to twenty times its size) is
        # kept only once a caller asks for it: nearly every visitor accepts gzip.
        return self._keep((key, True), packed)

    def _keep(self, key: Hashable, rendered: Rendered) -> Rendered:
        found = self._bodies.get(key)
        if found is not None:
            return found
        if len(self._bodies) < MAX_BODY_VARIANTS:
            self._bodies[key] = rendered
        return rendered


def _body_key(renderer: Renderer, params: RenderParams) -> Hashable:
    return (renderer.name, tuple(sorted((k, _param_key(v)) for k, v in params.items())))


class CachedPage(Cached[PageSnapshot]):
    @property
    def snapshot(self) -> PageSnapshot:
        return self.subject


class CachedIncident(Cached[IncidentPage]):
    @property
    def incident_page(self) -> IncidentPage:
        return self.subject


@dataclass(slots=True)
class _Entry:
    value: Any = None  # Cached[...] or None (no such page/incident), once has_value
    has_value: bool = False
    expires_at: float = 0.0
    retry_at: float = 0.0  # after a failed compute, none before this
    task: asyncio.Task[tuple[bool, Any]] | None = None


class PageCache:
    def __init__(
        self,
        source: SnapshotSource,
        *,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        failure_backoff: float = FAILURE_BACKOFF,
        renderers: Mapping[str, Renderer] | None = None,
    ) -> None:
        self.source = source
        self.renderers: Mapping[str, Renderer] = renderers or {}  # for body() by name
        self.ttl = ttl
        self.max_age = max(0, round(ttl))
        self._clock = clock
        self._backoff = failure_backoff
        self._pages: dict[str, _Entry] = {}
        self._incidents: OrderedDict[tuple[str, int, int | None], _Entry] = OrderedDict()
        self._stats: dict[str, CacheStats] = {INCIDENTS_KEY: CacheStats()}

    async def page(self, slug: str | None = None, host: str | None = None) -> CachedPage | None:
        """The page ``slug``; without one, the page whose hostname is ``host`` (the
        request's Host header), else the default page. None: no such page.
        Raises :class:`SnapshotUnavailable` on a cold failure."""
        key = self.source.resolve(slug, host)
        if key is None:
            return None
        entry = self._pages.get(key)
        if entry is None:
            entry = self._pages[key] = _Entry()
        stats = self._stats.setdefault(key, CacheStats())

        async def compute() -> CachedPage | None:
            snapshot = await self.source.page_snapshot(key)
            if snapshot is None:
                return None
            return CachedPage(snapshot, **self._cached_args())

        return await self._get(entry, stats, compute)

    async def incident(
        self,
        incident_id: int,
        slug: str | None = None,
        host: str | None = None,
        *,
        before: int | None = None,
    ) -> CachedIncident | None:
        """An incident's permalink page on the page ``slug`` (without one: by ``host``
        as :meth:`page` resolves it), showing the updates numbered below ``before``
        (the newest without it). None: no such page or incident, that page does not
        show it, or no such part of its timeline."""
        page = self.source.resolve(slug, host)
        if page is None:
            return None
        key = (page, incident_id, before)
        entry = self._incidents.get(key)
        if entry is None:
            entry = self._incidents[key] = _Entry()
            self._evict_incidents()
        else:
            self._incidents.move_to_end(key)

        async def compute() -> CachedIncident | None:
            found = await self.source.incident_page(incident_id, page, before=before)
            if found is None:
                return None
            return CachedIncident(found, **self._cached_args())

        return await self._get(entry, self._stats[INCIDENTS_KEY], compute)

    def _cached_args(self) -> dict[str, Any]:
        return {"max_age": self.max_age, "computed_at": self._clock(), "renderers": self.renderers}

    def invalidate(self, slug: str | None = None) -> None:
        """Forget snapshots (one page's, or all, incident permalinks included), so the
        next request computes. A compute already running finishes for its waiters."""
        # Expire rather than forget: the snapshot stays as last-known-good in case
        # the next compute fails.
        pages = self._pages.values() if slug is None else [self._pages.get(slug)]
        for entry in [*pages, *self._incidents.values()]:  # an incident's page may be this one
            if entry is not None:
                entry.expires_at = 0.0

    def stats(self) -> dict[str, CacheStats]:
        """Copies of the counters: every known page (zeros before its first request),
        every page seen before, and the incident permalinks under ``INCIDENTS_KEY``."""
        for slug in self.source.slugs():
            self._stats.setdefault(slug, CacheStats())
        return {key: value.copy() for key, value in self._stats.items()}

    # -- the single flight ---------------------------------------------------------

    async def _get(
        self, entry: _Entry, stats: CacheStats, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        now = self._clock()
        if entry.has_value and now < entry.expires_at:
            stats.hits += 1
            return entry.value
        if entry.task is None:
            if now < entry.retry_at:  # failed a moment ago: do not ask again yet
                return self._fallback(entry, stats)
            entry.task = asyncio.create_task(self._compute(entry, stats, compute))
        stats.misses += 1
        # Shielded: a waiter cancelled (a visitor gone) must not cancel everyone's compute.
        ok, value = await asyncio.shield(entry.task)
        return value if ok else self._fallback(entry, stats)

    def _fallback(self, entry: _Entry, stats: CacheStats) -> Any:
        if not entry.has_value:
            raise SnapshotUnavailable("the status page is not available right now")
        stats.stale_served += 1
        return entry.value

    async def _compute(
        self, entry: _Entry, stats: CacheStats, compute: Callable[[], Awaitable[Any]]
    ) -> tuple[bool, Any]:
        started = time.perf_counter()
        try:
            value = await compute()
        except Exception:
            log.exception("computing a status page snapshot failed")
            entry.retry_at = self._clock() + self._backoff
            stats.compute_errors += 1
            return False, None
        else:
            entry.value, entry.has_value = value, True
            entry.expires_at = self._clock() + self.ttl
            return True, value
        finally:
            entry.task = None
            stats.computes += 1
            stats.compute_seconds_total += time.perf_counter() - started

    def _evict_incidents(self) -> None:
        while len(self._incidents) > MAX_INCIDENT_ENTRIES:
            oldest = next(iter(self._incidents))
            # An entry being computed stays reachable through its waiters either way.
            del self._incidents[oldest]
