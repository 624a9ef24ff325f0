"""The page cache: single flight, last-known-good, cold failure, rendered bodies, metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import threading
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.core import Metric

from uplight.clock import FakeClock
from uplight.config import Config
from uplight.metrics import UplightCollector
from uplight.models import Status
from uplight.pages.cache import INCIDENTS_KEY, MAX_INCIDENT_ENTRIES, PageCache, SnapshotUnavailable
from uplight.plugins import PluginRegistry
from uplight.renderers import Renderer
from uplight.runtime import Runtime
from uplight.snapshot import IncidentPage, PageSnapshot

NOW = dt.datetime(2024, 6, 5, 12, 0, tzinfo=dt.UTC)


def snapshot(slug: str = "main", title: str = "Main") -> PageSnapshot:
    return PageSnapshot(
        slug=slug,
        title=title,
        status=Status.OPERATIONAL,
        components=(),
        active_incidents=(),
        recent_incidents=(),
        active_maintenance=(),
        upcoming_maintenance=(),
        recent_maintenance=(),
        generated_at=NOW,
        base_url="https://example.org",
        page_url="https://example.org/status",
    )


class FakeSource:
    """Pages "main" (default) and "ops"; computes are counted, can fail or be held."""

    def __init__(self) -> None:
        self.computes = 0
        self.fail = False
        self.title = "Main"
        self.gate: asyncio.Event | None = None
        self.incident_calls: list[tuple[int, str, int | None]] = []

    def resolve(self, slug: str | None = None, host: str | None = None) -> str | None:
        if slug is not None:
            return slug if slug in ("main", "ops") else None
        return "ops" if host == "ops.example.org" else "main"

    def slugs(self) -> list[str]:
        return ["main", "ops"]

    async def page_snapshot(self, slug: str) -> PageSnapshot | None:
        self.computes += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database is locked")
        return snapshot(slug, self.title)

    async def incident_page(
        self, incident_id: int, slug: str, *, before: int | None = None
    ) -> IncidentPage | None:
        self.computes += 1
        self.incident_calls.append((incident_id, slug, before))
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(source: FakeSource, clock: Clock) -> PageCache:
    return PageCache(source, ttl=10.0, clock=clock, failure_backoff=1.0)


async def test_fresh_entries_are_hits_until_the_ttl(cache, source, clock) -> None:
    first = await cache.page()
    clock.now += 9.9
    again = await cache.page("main")
    assert first is not None and again is first and source.computes == 1
    clock.now += 0.1  # expired
    third = await cache.page()
    assert third is not first and source.computes == 2
    stats = cache.stats()["main"]
    assert (stats.hits, stats.misses, stats.computes) == (1, 2, 2)
    assert stats.compute_seconds_total > 0


async def test_pages_by_slug_and_host(cache, source) -> None:
    main, ops = await cache.page(), await cache.page(host="ops.example.org")
    assert main is not None and ops is not None
    assert (main.snapshot.slug, ops.snapshot.slug) == ("main", "ops")
    assert await cache.page("ops") is ops  # one entry per page, however reached
    assert await cache.page("nope") is None
    assert source.computes == 2


@pytest.mark.parametrize("warm", [True, False])
async def test_200_concurrent_requests_share_one_compute(cache, source, clock, warm) -> None:
    if warm:
        old = await cache.page()
        clock.now += 11  # expired
    source.computes = 0
    source.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache.page()) for _ in range(200)]
    await asyncio.sleep(0.01)  # every request is waiting now
    assert source.computes == 1
    source.gate.set()
    got = await asyncio.gather(*tasks)
    assert source.computes == 1
    assert len({id(entry) for entry in got}) == 1 and got[0] is not None
    if warm:
        assert got[0] is not old
    assert cache.stats()["main"].misses == 200 + (1 if warm else 0)


async def test_a_cancelled_waiter_does_not_cancel_the_compute(cache, source) -> None:
    source.gate = asyncio.Event()
    first = asyncio.create_task(cache.page())
    second = asyncio.create_task(cache.page())
    await asyncio.sleep(0.01)
    first.cancel()  # the visitor who triggered it went away
    await asyncio.sleep(0)
    source.gate.set()
    entry = await second
    assert entry is not None and source.computes == 1
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await cache.page() is entry  # and the result was kept


async def test_last_known_good_while_the_compute_fails(cache, source, clock, caplog) -> None:
    good = await cache.page()
    source.fail = True
    clock.now += 11
    assert await cache.page() is good  # stale, but an answer
    assert source.computes == 2
    assert "computing a status page snapshot failed" in caplog.text
    # Within the back-off: no new compute per request, still the old snapshot.
    for _ in range(5):
        clock.now += 0.1
        assert await cache.page() is good
    assert source.computes == 2
    clock.now += 1  # back-off over: one more try, which fails too
    assert await cache.page() is good and source.computes == 3
    stats = cache.stats()["main"]
    assert (stats.stale_served, stats.compute_errors) == (7, 2)
    # Recovery.
    source.fail, source.title = False, "Main, recovered"
    clock.now += 1
    fresh = await cache.page()
    assert fresh is not None and fresh is not good
    assert fresh.snapshot.title == "Main, recovered"
    assert await cache.page() is fresh and source.computes == 4


async def test_concurrent_waiters_on_a_failing_compute_all_get_the_old_snapshot(
    cache, source, clock
) -> None:
    good = await cache.page()
    source.fail, source.gate = True, asyncio.Event()
    clock.now += 11
    tasks = [asyncio.create_task(cache.page()) for _ in range(20)]
    await asyncio.sleep(0.01)
    source.gate.set()
    assert all(entry is good for entry in await asyncio.gather(*tasks))
    assert source.computes == 2 and cache.stats()["main"].stale_served == 20


async def test_cold_failure_raises_until_a_compute_succeeds(cache, source, clock) -> None:
    source.fail = True
    with pytest.raises(SnapshotUnavailable):
        await cache.page()
    with pytest.raises(SnapshotUnavailable):  # within the back-off: not even tried
        await cache.page()
    assert source.computes == 1
    source.fail = False
    clock.now += 1
    assert await cache.page() is not None
    assert cache.stats()["main"].compute_errors == 1


async def test_ttl_zero_turns_the_cache_off(source, clock) -> None:
    cache = PageCache(source, ttl=0, clock=clock)
    first, second = await cache.page(), await cache.page()
    assert first is not second and source.computes == 2
    assert first is not None and first.max_age == 0


async def test_invalidate(cache, source) -> None:
    await cache.page()
    await cache.page("ops")
    cache.invalidate("main")
    await cache.page()
    await cache.page("ops")
    assert source.computes == 3
    cache.invalidate()
    await cache.page("ops")
    assert source.computes == 4


async def test_incident_entries_are_cached_and_bounded(cache, source) -> None:
    assert await cache.incident(7) is None
    assert await cache.incident(7) is None  # "no such incident" is cached too
    assert source.computes == 1
    for incident_id in range(1000, 1000 + MAX_INCIDENT_ENTRIES + 50):
        await cache.incident(incident_id)
    assert len(cache._incidents) == MAX_INCIDENT_ENTRIES
    stats = cache.stats()
    assert stats[INCIDENTS_KEY].hits == 1
    assert set(stats) == {"main", "ops", INCIDENTS_KEY}  # zeros before any page request


async def test_incident_entries_are_per_page_and_part(cache, source) -> None:
    """The same incident reads differently on two pages (issue 10, point 11), and a
    long timeline is shown a part at a time (point 21): each is its own entry."""
    await cache.incident(7)  # by no Host: the default page
    await cache.incident(7, host="ops.example.org")
    await cache.incident(7, "ops")  # by slug: the same page as by its Host
    await cache.incident(7, "ops", before=51)
    await cache.incident(7, "ops", before=51)
    assert await cache.incident(7, "nope") is None  # no such page: nothing computed
    assert source.incident_calls == [(7, "main", None), (7, "ops", None), (7, "ops", 51)]


class Counting(Renderer):
    name = "counting"
    media_type = "text/plain; charset=utf-8"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def render(self, snapshot: Any, **params: Any) -> bytes:
        self.calls.append(params)
        return (f"{snapshot.title} {sorted(params.items())} " * 50).encode()


async def test_bodies_are_rendered_once_per_snapshot(cache, source, clock) -> None:
    renderer = Counting()
    entry = await cache.page()
    assert entry is not None
    plain = entry.body(renderer, gzip=False, view="page")
    assert entry.body(renderer, gzip=False, view="page") is plain
    packed = entry.body(renderer, gzip=True, view="page")
    assert entry.body(renderer, gzip=True, view="page") is packed
    assert len(renderer.calls) == 1  # the gzip variant is made from the same bytes
    other = entry.body(renderer, gzip=False, view="fragment")
    assert len(renderer.calls) == 2 and other.body != plain.body

    assert not plain.gzipped and packed.gzipped
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body)
    assert plain.etag.startswith('"') and plain.etag.endswith('"')
    assert packed.etag == plain.etag[:-1] + '-gz"'
    assert (plain.media_type, plain.max_age) == (renderer.media_type, 10)

    # A new snapshot renders again; the same bytes keep the same ETag (and gzip bytes).
    clock.now += 11
    same = await cache.page()
    assert same is not None and same is not entry
    assert same.body(renderer, gzip=True, view="page").body == packed.body
    assert same.body(renderer, gzip=False, view="page").etag == plain.etag
    # gzip asked first: only the compressed bytes were kept, so the plain ones,
    # asked for next, were rendered again (then kept).
    assert len(renderer.calls) == 4
    assert same.body(renderer, gzip=False, view="page") is same.body(renderer, view="page")
    assert len(renderer.calls) == 4
    # Changed content: a different ETag.
    source.title = "Main, changed"
    clock.now += 11
    changed = await cache.page()
    assert changed is not None
    assert changed.body(renderer, gzip=False, view="page").etag != plain.etag


async def test_a_gzip_render_keeps_only_the_compressed_bytes(cache) -> None:
    renderer = Counting()
    entry = await cache.page()
    assert entry is not None
    packed = await entry.render(renderer, gzip=True, view="page")
    assert await entry.render(renderer, gzip=True, view="page") is packed
    assert [r.gzipped for r in entry._bodies.values()] == [True]  # no plain bytes held
    plain = await entry.render(renderer, gzip=False, view="page")
    assert gzip.decompress(packed.body) == plain.body
    assert packed.etag == plain.etag[:-1] + '-gz"'
    assert await entry.render(renderer, gzip=False, view="page") is plain
    assert len(renderer.calls) == 2


async def test_body_by_renderer_name(source, clock) -> None:
    renderer = Counting()
    cache = PageCache(source, clock=clock, renderers={"counting": renderer})
    entry = await cache.page()
    assert entry is not None
    assert entry.body("counting", gzip=False) is entry.body(renderer, gzip=False)
    with pytest.raises(KeyError):
        entry.body("nope", gzip=False)


async def test_a_failing_renderer_is_not_cached(cache) -> None:
    class Broken(Renderer):
        name = "broken"
        calls = 0

        def render(self, snapshot: Any, **params: Any) -> bytes:
            Broken.calls += 1
            raise ValueError("boom")

    entry = await cache.page()
    assert entry is not None
    for _ in range(2):
        with pytest.raises(ValueError):
            entry.body(Broken(), gzip=False)
    assert Broken.calls == 2


class Gated(Renderer):
    """Records the thread it renders on; waits on a thread event so a test can hold it."""

    name = "gated"
    media_type = "text/plain; charset=utf-8"

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.release = threading.Event()
        self.fail = False

    def render(self, snapshot: Any, **params: Any) -> bytes:
        self.threads.append(threading.current_thread().name)
        assert self.release.wait(10)
        if self.fail:
            raise ValueError("boom")
        return (f"{snapshot.title} " * 100).encode()


async def test_render_runs_off_the_loop_once_for_all_waiters(cache) -> None:
    renderer = Gated()
    entry = await cache.page()
    assert entry is not None
    waiters = [
        asyncio.create_task(entry.render(renderer, gzip=gzip, view="page"))
        for gzip in (True, False, True, False, True)
    ]
    await asyncio.sleep(0.05)
    # The loop is free while the render is held: this coroutine runs.
    assert renderer.threads and not any(w.done() for w in waiters)
    renderer.release.set()
    answers = await asyncio.gather(*waiters)
    assert len(renderer.threads) == 1  # one render, gzip included, for all five
    assert renderer.threads[0].startswith("uplight-worker")
    packed, plain = answers[0], answers[1]
    assert packed.gzipped and not plain.gzipped
    assert all(a is packed for a in answers[::2]) and all(a is plain for a in answers[1::2])
    assert gzip.decompress(packed.body) == plain.body
    # Stored: the synchronous path and later renders get the same objects, no render.
    assert entry.body(renderer, gzip=True, view="page") is packed
    assert await entry.render(renderer, gzip=False, view="page") is plain
    assert len(renderer.threads) == 1


async def test_a_cancelled_waiter_does_not_cancel_the_render(cache) -> None:
    renderer = Gated()
    entry = await cache.page()
    assert entry is not None
    gone = asyncio.create_task(entry.render(renderer, gzip=True))
    stays = asyncio.create_task(entry.render(renderer, gzip=True))
    await asyncio.sleep(0.05)
    gone.cancel()
    renderer.release.set()
    assert (await stays).gzipped
    assert gone.cancelled() and len(renderer.threads) == 1


async def test_a_failed_render_reaches_every_waiter_and_is_not_cached(cache) -> None:
    renderer = Gated()
    renderer.fail = True
    renderer.release.set()
    entry = await cache.page()
    assert entry is not None
    results = await asyncio.gather(
        entry.render(renderer), entry.render(renderer), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    assert len(renderer.threads) == 1
    renderer.fail = False
    assert (await entry.render(renderer)).body.startswith(b"Main ")
    assert len(renderer.threads) == 2


async def test_the_real_page_service_single_flight(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    """200 concurrent requests on an expired entry of a real page: one compute."""
    config = make_config(
        '[[monitors]]\nid = "web"\nname = "Web"\ntype = "http"\nurl = "http://127.0.0.1:9/"\n'
        'interval = "1h"\ntimeout = "1s"\n'
        '[[pages]]\nslug = "main"\ntitle = "Main"\n[[pages.components]]\nmonitor = "web"\n'
    )
    runtime = Runtime(config, registry, clock=FakeClock(NOW))
    await runtime.start()
    try:
        await runtime.scheduler.stop()
        clock = Clock()
        cache = PageCache(runtime.pages, ttl=10, clock=clock)
        computes = 0
        compute = runtime.pages.page_snapshot

        async def counted(slug: str) -> PageSnapshot | None:
            nonlocal computes
            computes += 1
            return await compute(slug)

        runtime.pages.page_snapshot = counted  # type: ignore[method-assign]
        await cache.page()
        clock.now += 10
        got = await asyncio.gather(*(cache.page() for _ in range(200)))
        assert computes == 2 and len({id(g) for g in got}) == 1
        assert got[0] is not None and [c.name for c in got[0].snapshot.components] == ["Web"]
        assert runtime.page_cache.ttl == config.public.cache_ttl == 10
    finally:
        await runtime.stop()


def _samples(metrics: list[Metric], name: str) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels["page"]): s.value
        for family in metrics
        for s in family.samples
        if s.name.startswith(name)
    }


async def test_counters_reach_the_metrics_collector(
    make_config: Callable[[str], Config], registry: PluginRegistry, source, clock
) -> None:
    runtime = Runtime(make_config(""), registry)
    runtime.page_cache = PageCache(source, clock=clock)
    await runtime.page_cache.page()
    await runtime.page_cache.page()
    source.fail = True
    clock.now += 11
    await runtime.page_cache.page()
    metrics = list(UplightCollector(runtime).collect())
    samples = _samples(metrics, "uplight_page_cache_")
    assert samples[("uplight_page_cache_hits_total", "main")] == 1
    assert samples[("uplight_page_cache_misses_total", "main")] == 2
    assert samples[("uplight_page_cache_stale_served_total", "main")] == 1
    assert samples[("uplight_page_cache_compute_errors_total", "main")] == 1
    assert samples[("uplight_page_cache_compute_seconds_count", "main")] == 2
    assert samples[("uplight_page_cache_compute_seconds_sum", "main")] >= 0
    # Every page and the permalink pages have series from the start.
    assert samples[("uplight_page_cache_hits_total", "ops")] == 0
    assert samples[("uplight_page_cache_hits_total", INCIDENTS_KEY)] == 0


async def test_invalidate_keeps_the_last_known_good(cache, source) -> None:
    first = await cache.page()
    cache.invalidate()  # an admin write: the next request recomputes…
    source.fail = True  # …and that compute fails
    served = await cache.page()
    assert served is first  # the visitor still gets the last good page, not a 503
    assert cache.stats()["main"].stale_served == 1
