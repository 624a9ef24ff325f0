"""Page snapshots: compute time against the bare SQL reads it needs, and the cold path
(cache off: compute + HTML render per request) against the cached one, each in one run.

``snapshot``: a page of 200 components with 90 days of rollups each, 50 incidents
(with timelines) and a few maintenance windows, in a real SQLite file built with
``executemany`` into the store's own schema. uplight is ``PageService.page_snapshot``
(page read, latest statuses, rollups, incidents, timelines, windows, and every
public object built); bare is the same SQL statements through plain ``sqlite3``
on a read-only connection, rows fetched and thrown away. Median of N each.

``page``: a page of 10 components with 90 days of history. uplight is the cold
path, ``PageCache(ttl=0)`` (a compute and an HTML render per request); bare is
the cached path, ``PageCache(ttl=10)`` (a dict look-up and the stored bytes), both
asking for the gzip variant of the full page, one request after another.

``bigpage``: a page of 1,000 components x 90 days (300 with ``--quick``): the
compute, the HTML bytes (plain and gzip), and how long the event loop is held
while the page is rendered and gzipped the way the serving paths do it
(``Cached.render``: in the render thread) against rendering on the loop
(``Cached.body``, as before issue 11), each measured by a 1 ms ticker on the
loop: the longest gap between its ticks is the longest stall a check or a
``/healthz`` would have suffered. The objects built before the measured runs are
frozen out of the garbage collector (``gc.freeze()``), as ``uplight serve`` does once
started; without it, full collections set off by the shaping's allocations in the
render thread walk them all while holding the GIL, and they dominate the stall.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import gzip
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from uplight.clock import FakeClock
from uplight.config import Config, parse_config
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.pages.cache import Cached, PageCache
from uplight.pages.provisioning import provision_pages
from uplight.pages.service import PageService
from uplight.plugins import PluginRegistry, load_plugins
from uplight.schema import build_store
from uplight.snapshot import HISTORY_DAYS

from .common import Comparison

NOW = dt.datetime(2024, 6, 5, 12, 0, tzinfo=dt.UTC)
GROUPS = ("Web", "APIs", "Data", "Network", "Mail")


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def config_text(components: int) -> str:
    parts = []
    for i in range(components):
        parts.append(
            f'[[monitors]]\nid = "m{i}"\nname = "Monitor {i}"\ntype = "http"\n'
            f'url = "http://127.0.0.1:9/{i}"\ninterval = "1m"\ntimeout = "5s"\n'
        )
    parts.append('[[pages]]\nslug = "main"\ntitle = "Bench"\n')
    for i in range(components):
        group = f'public_group = "{GROUPS[i % len(GROUPS)]}"\n' if i % 7 else ""
        parts.append(
            f'[[pages.components]]\nmonitor = "m{i}"\npublic_name = "Service {i}"\n'
            f"{group}sort_order = {i}\n"
        )
    return "".join(parts)


def fill(path: Path, components: int, incidents: int, seed: int = 3) -> None:
    """Rows straight into the store's tables: rollups for every day, incidents with
    updates, windows; then a few raw results per monitor through the store (the latest
    decides its status)."""
    rng = random.Random(seed)
    rollups: list[tuple[Any, ...]] = []
    results: list[ResultRecord] = []
    for i in range(components):
        checks = rng.choice((96, 288, 1440, 2880))  # intervals of 15 min down to 30 s
        for back in range(HISTORY_DAYS):
            day = (NOW.date() - dt.timedelta(days=back)).isoformat()
            # Mostly clean days, and varied bad ones (fewer identical cells to share).
            down = 0 if rng.random() < 0.8 else rng.randint(1, checks // 10)
            degraded = 0 if rng.random() < 0.8 else rng.randint(1, 20)
            maint = 1 if rng.random() < 0.02 else 0
            up = checks - down - degraded
            row = (f"m{i}", day, checks, up, degraded, down, maint, checks, checks * 20.0, 90.0)
            rollups.append(row)
        for k in range(5):
            status = rng.choice(("up",) * 8 + ("degraded", "down"))
            at = NOW - dt.timedelta(minutes=5 - k)
            result = CheckResult(CheckStatus(status), 0.0125, "200 OK")
            results.append(ResultRecord(f"m{i}", at, result))
    incident_rows, updates = [], []
    for n in range(incidents):
        started = NOW - dt.timedelta(hours=rng.uniform(1, 13 * 24))
        ended = None if n % 10 == 0 else _ms(started + dt.timedelta(minutes=rng.uniform(5, 90)))
        incident_rows.append(
            (n + 1, f"m{rng.randrange(components)}", "Monitor", "major", None, None, None,
             _ms(started), ended, _ms(started))
        )  # fmt: skip
        for k, phase in enumerate(("investigating", "identified", "resolved")):
            at = _ms(started + dt.timedelta(minutes=10 * k))
            updates.append((n + 1, phase, f"Update {k} of incident {n + 1}", at, "bench"))
    windows, covered = [], []
    for w in range(8):
        starts = NOW + dt.timedelta(days=w - 4, hours=1)
        status = "completed" if w < 4 else "scheduled"
        windows.append(
            (w + 1, f"Window {w}", None, "info", _ms(starts), _ms(starts + dt.timedelta(hours=2)),
             status, _ms(NOW), _ms(NOW), "bench")
        )  # fmt: skip
        covered += [(w + 1, f"m{(w * 13 + k) % components}", k) for k in range(3)]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO daily_rollups (monitor_id, day, checks_total, up_count, degraded_count,"
            " down_count, maintenance_count, latency_count, latency_sum_ms, latency_max_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rollups,
        )
        db.executemany(
            "INSERT INTO incidents (id, monitor_id, monitor_name, auto_severity,"
            " severity_override, public_title, public_description, started_at, ended_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            incident_rows,
        )
        db.executemany(
            "INSERT INTO incident_updates (incident_id, phase, message, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?)",
            updates,
        )
        db.executemany(
            "INSERT INTO maintenance_windows (id, title, description, severity, starts_at,"
            " ends_at, status, created_at, updated_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            windows,
        )
        db.executemany(
            "INSERT INTO maintenance_components (window_id, monitor_id, position) VALUES (?, ?, ?)",
            covered,
        )
    asyncio.run(add_results(path, results))


async def add_results(path: Path, records: list[ResultRecord]) -> None:
    """Raw results go through the store: they are packed, not plain rows."""
    async with build_store(path) as store:
        for record in records:
            store.add_result(record)
        await store.flush()


async def prepare(path: Path, config: Config) -> None:
    """The store's migrations and the page's components, as at start-up."""
    async with build_store(path) as store:
        await provision_pages(store, config, NOW)


def bare_reads(db: sqlite3.Connection, ids: list[str]) -> int:
    """The statements a snapshot compute runs, rows fetched and dropped; returns rows."""
    since_day = (NOW.date() - dt.timedelta(days=HISTORY_DAYS - 1)).isoformat()
    since = _ms(NOW - dt.timedelta(days=14))
    marks = ",".join("?" * len(ids))
    rows = len(db.execute("SELECT * FROM status_pages").fetchall())
    rows += len(
        db.execute("SELECT * FROM page_components ORDER BY page_slug, sort_order, id").fetchall()
    )
    rows += len(
        db.execute(
            "SELECT k.monitor_id, b.newest_status, b.newest_at FROM monitor_keys AS k"
            " JOIN result_blocks AS b ON b.id = (SELECT id FROM result_blocks"
            " WHERE monitor_key = k.key ORDER BY starts_at DESC LIMIT 1)"
            f" WHERE k.monitor_id IN ({marks})",
            ids,
        ).fetchall()
    )
    rows += len(
        db.execute(
            "SELECT monitor_id, day, checks_total, up_count, degraded_count, down_count,"
            f" maintenance_count FROM daily_rollups WHERE monitor_id IN ({marks}) AND day >= ?",
            (*ids, since_day),
        ).fetchall()
    )
    for statuses, limit in (
        (("scheduled", "active"), -1),
        (("scheduled", "active", "completed", "cancelled"), 50),
    ):
        found = db.execute(
            f"SELECT * FROM maintenance_windows WHERE status IN ({','.join('?' * len(statuses))})"
            " AND id IN (SELECT window_id FROM maintenance_components WHERE monitor_id IN"
            f" ({marks})) ORDER BY starts_at DESC, id DESC LIMIT ?",
            (*statuses, *ids, limit),
        ).fetchall()
        window_ids = [row[0] for row in found]
        rows += len(found) + len(
            db.execute(
                "SELECT window_id, monitor_id FROM maintenance_components WHERE window_id IN"
                f" ({','.join('?' * len(window_ids))}) ORDER BY window_id, position",
                window_ids,
            ).fetchall()
        )
    incidents = db.execute(
        f"SELECT * FROM incidents WHERE monitor_id IN ({marks})"
        " AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC, id DESC",
        (*ids, since),
    ).fetchall()
    incident_ids = [row[0] for row in incidents]
    in_ids = ",".join("?" * len(incident_ids))
    rows += len(incidents)
    rows += len(
        db.execute(
            f"SELECT * FROM incident_updates WHERE incident_id IN ({in_ids})"
            " ORDER BY incident_id, id DESC",
            incident_ids,
        ).fetchall()
    )
    return rows


def build(
    tmp: Path, registry: PluginRegistry, components: int, incidents: int
) -> tuple[Config, Path]:
    path = tmp / f"page-{components}.db"
    config = parse_config(
        f'[storage]\npath = "{path}"\n' + config_text(components), registry.check_types
    )
    asyncio.run(prepare(path, config))
    fill(path, components, incidents)
    return config, path


def run_compute(quick: bool = False) -> Comparison:
    components, incidents = 200, 50
    repeats = 9 if quick else 60
    registry = load_plugins(builtins_only=True)
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        config, path = build(Path(tmp), registry, components, incidents)
        ids = [f"m{i}" for i in range(components)]

        async def measure() -> tuple[list[float], list[float], int, int, int]:
            async with build_store(path) as store:
                service = PageService(config, store, clock=FakeClock(NOW))
                await service.refresh()
                snapshot = await service.page_snapshot("main")  # warm SQLite's page cache
                assert snapshot is not None and len(snapshot.components) == components
                cells = sum(len(c.history) for c in snapshot.components)
                shown = len(snapshot.active_incidents) + len(snapshot.recent_incidents)
                db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
                rows = bare_reads(db, ids)  # one connection kept open, as the store does
                ours, bare = [], []
                # Alternating, so the machine's drift hits both sides alike.
                for _ in range(repeats):
                    started = time.perf_counter()
                    await service.page_snapshot("main")
                    ours.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    bare_reads(db, ids)
                    bare.append(time.perf_counter() - started)
                db.close()
                return ours, bare, cells, shown, rows

        uplight_times, bare_times, cells, shown, rows = asyncio.run(measure())
    ours, bare = statistics.median(uplight_times), statistics.median(bare_times)
    return Comparison(
        name="snapshot compute",
        unit="snapshots/s",
        uplight=1 / ours,
        bare=1 / bare,
        notes=(
            f"{components} components x {HISTORY_DAYS} days of rollups ({cells:,} cells),"
            f" {incidents} incidents stored ({shown} on the page, 3 updates each), 8 windows",
            f"uplight: PageService.page_snapshot, median of {repeats}: {ours * 1000:.1f} ms",
            f"bare: the same SQL through sqlite3 (read-only), rows fetched ({rows:,}),"
            f" median of {repeats}: {bare * 1000:.1f} ms",
        ),
    )


def run_cold_path(quick: bool = False) -> Comparison:
    components, incidents = 10, 5
    seconds = 1.0 if quick else 4.0
    registry = load_plugins(builtins_only=True)
    html = registry.renderers["html"]
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        config, path = build(Path(tmp), registry, components, incidents)

        async def rate(ttl: float) -> tuple[float, int]:
            async with build_store(path) as store:
                service = PageService(config, store, clock=FakeClock(NOW))
                await service.refresh()
                cache = PageCache(service, ttl=ttl)
                params: dict[str, Any] = {"view": "page", "refresh_seconds": 30}

                async def request() -> int:
                    entry = await cache.page()
                    assert entry is not None
                    return len(entry.body(html, gzip=True, **params).body)

                size = await request()  # warm
                count, started = 0, time.perf_counter()
                while (elapsed := time.perf_counter() - started) < seconds:
                    for _ in range(10):
                        await request()
                    count += 10
                return count / elapsed, size

        cold, size = asyncio.run(rate(0))
        cached, _ = asyncio.run(rate(10))
    return Comparison(
        name="page cold path",
        unit="requests/s",
        uplight=cold,
        bare=cached,
        notes=(
            f"{components} components x {HISTORY_DAYS} days, {incidents} incidents;"
            f" full HTML page, gzip ({size:,} bytes), in-process, {seconds:.0f} s each",
            "uplight: PageCache(ttl=0), every request computes the snapshot and renders it",
            "bare: PageCache(ttl=10), every request is a cache hit (the ceiling)",
            f"cold request: {1000 / cold:.2f} ms; cached request: {1e6 / cached:.1f} us",
        ),
    )


class Ticker:
    """A coroutine ticking every millisecond: the longest gap is the longest loop stall."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.01)  # running before the work starts
        self.longest = 0.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        await asyncio.sleep(0.005)  # its next tick measures a stall that just ended
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def run_big_page(quick: bool = False, freeze: bool = True) -> Comparison:
    components = 300 if quick else 1000
    repeats = 3 if quick else 7
    registry = load_plugins(builtins_only=True)
    html = registry.renderers["html"]
    params: dict[str, Any] = {"view": "page", "refresh_seconds": 30}
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        config, path = build(Path(tmp), registry, components, 50)

        async def measure() -> dict[str, Any]:
            out: dict[str, Any] = {"compute": [], "compute_stall": [], "on": [], "off": []}
            out.update(on_stall=[], off_stall=[], render=[], gzip=[])
            async with build_store(path) as store:
                service = PageService(config, store, clock=FakeClock(NOW))
                await service.refresh()
                await service.page_snapshot("main")  # warm SQLite's page cache
                if freeze:  # as ``uplight serve`` does once started (runtime.py)
                    gc.freeze()
                for _ in range(repeats):
                    async with Ticker() as ticker:
                        started = time.perf_counter()
                        snapshot = await service.page_snapshot("main")
                        out["compute"].append(time.perf_counter() - started)
                    out["compute_stall"].append(ticker.longest)
                    assert snapshot is not None and len(snapshot.components) == components
                    # On the loop, as before: the render and the gzip hold it.
                    entry = Cached(snapshot, max_age=10, computed_at=0.0)
                    async with Ticker() as ticker:
                        started = time.perf_counter()
                        packed = entry.body(html, gzip=True, **params)
                        out["on"].append(time.perf_counter() - started)
                    out["on_stall"].append(ticker.longest)
                    # As the serving paths do now: in the render thread.
                    entry = Cached(snapshot, max_age=10, computed_at=0.0)
                    async with Ticker() as ticker:
                        started = time.perf_counter()
                        packed = await entry.render(html, gzip=True, **params)
                        out["off"].append(time.perf_counter() - started)
                    out["off_stall"].append(ticker.longest)
                    # The two steps apart, for the notes.
                    started = time.perf_counter()
                    plain = html.render(snapshot, **params)
                    out["render"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    gzip.compress(plain, compresslevel=6, mtime=0)
                    out["gzip"].append(time.perf_counter() - started)
                out["html_bytes"] = len(plain)
                out["gzip_bytes"] = len(packed.body)
                out["cells"] = sum(len(c.history) for c in snapshot.components)
            return out

        try:
            out = asyncio.run(measure())
        finally:
            gc.unfreeze()

    def ms(key: str) -> float:
        return statistics.median(out[key]) * 1000

    html_bytes, cells = out["html_bytes"], out["cells"]
    return Comparison(
        name="big page: loop held by the render",
        unit="ms",
        uplight=ms("off_stall"),
        bare=ms("on_stall"),
        lower_is_better=True,
        notes=(
            f"{components} components x {HISTORY_DAYS} days ({cells:,} cells), 50 incidents;"
            f" medians of {repeats}",
            f"HTML {html_bytes:,} bytes ({html_bytes / cells:.1f} per cell),"
            f" gzip {out['gzip_bytes']:,} bytes",
            f"compute (PageService.page_snapshot): {ms('compute'):.0f} ms,"
            f" loop held up to {ms('compute_stall'):.0f} ms by it"
            + (" (start-up objects frozen, as uplight serve does)" if freeze else ""),
            f"render {ms('render'):.0f} ms + gzip {ms('gzip'):.0f} ms",
            f"on the loop (Cached.body): {ms('on'):.0f} ms, loop held {ms('on_stall'):.0f} ms",
            f"off the loop (Cached.render, render thread): {ms('off'):.0f} ms,"
            f" loop held {ms('off_stall'):.1f} ms",
            "ratio = loop held on the loop / loop held off it",
        ),
    )
