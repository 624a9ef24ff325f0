"""The cached ``/status`` on asyncio's loop and on uvloop (the ``fast`` extra), each against
the bare ASGI ceiling on the same loop, and what that makes in page views per second.

Four servers, each its own process on 127.0.0.1 pinned to one core, set up as in
``bench_page``: uplight (the real app, warm cache, fast path, rate limit on) and the
bare ASGI app returning the same bytes and headers, once on each loop. Rounds
alternate between them, best of the rounds.

A page view: uplight renders the page on the server, so a visitor whose browser
holds the assets (linked with their content hash, cached for a year) costs one
request, ``GET /status``; views/s is then the requests/s of that figure. A first
visit also fetches ``status.css``, ``status.js`` and ``favicon.svg``: four requests,
measured as a mix with wrk (a Lua script cycling the four paths) when wrk is here.

A revalidation: a browser reloading the page within its ``max-age`` (``cache_ttl``)
sends ``If-None-Match`` and gets a 304 with no body. Measured with wrk too, and
reported beside the figures, never as views: the page shows when it was updated,
so its ETag changes with every snapshot and a visitor who comes back later gets a
200. The load average before and after is printed: the machine is shared.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from uplight.eventloop import uvloop_installed

from .bench_page import (
    CONNECTIONS,
    SKIPPED,
    Load,
    config_text,
    fetch,
    free_port,
    python_load,
    seed,
    start,
    stop,
    wrk_load,
)
from .common import Comparison, cores

LOOPS = ("asyncio", "uvloop")
UPTIME_KUMA_VIEWS = 2244  # views/s measured side by side on this machine (issue 15)
GOAL = 2.5 * UPTIME_KUMA_VIEWS


def _mix_script(folder: Path, paths: list[str]) -> Path:
    script = folder / "first-view.lua"
    listed = ", ".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{{listed}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\n"
        "end\n"
    )
    return script


def _asset_paths(body: bytes) -> list[str]:
    html = gzip.decompress(body).decode() if body[:2] == b"\x1f\x8b" else body.decode()
    return sorted(set(re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)))


def run(quick: bool = False) -> list[Comparison]:
    if not uvloop_installed():
        raise RuntimeError("uvloop is not installed: pip install -e '.[test]' (or '.[fast]')")
    seconds = 1.0 if quick else 5.0
    rounds = 1 if quick else 3
    has_wrk = shutil.which("wrk") is not None
    generate = wrk_load if has_wrk else python_load
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        folder = Path(tmp)
        ports = {f"{kind} {loop}": free_port() for kind in ("uplight", "bare") for loop in LOOPS}
        first = folder / "uplight-asyncio.toml"
        first.write_text(config_text(ports["uplight asyncio"]))
        asyncio.run(seed(first))
        config = folder / "uplight-uvloop.toml"
        shutil.copy(folder / "bench.db", folder / "bench-uvloop.db")
        text = config_text(ports["uplight uvloop"]).replace("bench.db", "bench-uvloop.db")
        config.write_text(text)
        configs = {"asyncio": first, "uvloop": config}

        servers = {
            f"uplight {loop}": start(
                ["serve", str(configs[loop]), "fast", loop], ports[f"uplight {loop}"]
            )
            for loop in LOOPS
        }
        try:
            status, headers, body = fetch(ports["uplight asyncio"])
            assert status == 200 and ("content-encoding", "gzip") in headers, headers
            kept = [(k, v) for k, v in headers if k.lower().encode() not in SKIPPED]
            answer = folder / "answer.json"
            answer.write_text(json.dumps({"status": status, "headers": kept, "body": body.hex()}))
            for loop in LOOPS:
                name = f"bare {loop}"
                servers[name] = start(["bare", str(answer), str(ports[name]), loop], ports[name])
            for name, port in ports.items():
                got_status, got_headers, got_body = fetch(port)
                got = [(k, v) for k, v in got_headers if k.lower().encode() not in SKIPPED]
                if name.startswith("bare"):
                    assert (got_status, got, got_body) == (status, kept, body), name
                else:  # not byte-compared: each uplight's snapshot has its own time
                    assert got_status == 200 and ("content-encoding", "gzip") in got_headers
            assets = _asset_paths(body)
            mix = _mix_script(folder, ["/status", *assets]) if has_wrk else None

            _, fast_headers, _ = fetch(ports["uplight uvloop"])
            revalidate = {"If-None-Match": dict(fast_headers)["etag"]}

            results: dict[str, list[Load]] = {name: [] for name in ports}
            mixes: list[Load] = []
            revalidations: list[Load] = []
            load_before = os.getloadavg()
            for _ in range(rounds):
                for name, port in ports.items():
                    results[name].append(generate(port, seconds))
                if mix is not None:
                    mixes.append(wrk_load(ports["uplight uvloop"], seconds, script=str(mix)))
                if has_wrk:
                    port = ports["uplight uvloop"]
                    revalidations.append(wrk_load(port, seconds, headers=revalidate))
            load_after = os.getloadavg()
        finally:
            for proc in servers.values():
                stop(proc)

    best = {name: max(loads, key=lambda load: load.rps) for name, loads in results.items()}
    for name, load in best.items():
        if load.errors:
            raise RuntimeError(f"{name}: {load.errors} failed requests: the figures are void")

    def line(label: str, load: Load) -> str:
        return (
            f"{label:<22} {load.rps:>9,.0f} req/s   p50 {load.p50_ms:6.2f} ms"
            f"   p99 {load.p99_ms:6.2f} ms   ({load.requests:,} requests)"
        )

    fast, plain = best["uplight uvloop"], best["uplight asyncio"]
    notes = [
        f"GET /status (gzip), as the 'serve' benchmark; {'wrk' if has_wrk else 'python client'},"
        f" {CONNECTIONS} connections, {seconds:.0f} s per run, best of {rounds}; {cores()} cores",
        *(line(name, load) for name, load in best.items()),
        f"uvloop / asyncio: uplight {fast.rps / plain.rps:.2f},"
        f" bare {best['bare uvloop'].rps / best['bare asyncio'].rps:.2f}",
        f"page views/s, assets cached (1 request a view): {fast.rps:,.0f} on uvloop,"
        f" {plain.rps:,.0f} on asyncio; goal 2.5 x Uptime Kuma's {UPTIME_KUMA_VIEWS:,}"
        f" = {GOAL:,.0f}: {'met' if fast.rps >= GOAL else 'not met'} on uvloop",
    ]
    if mixes:
        view = max(mixes, key=lambda load: load.rps)
        count = 1 + len(assets)
        notes.append(
            f"first visit ({count} requests: /status and {', '.join(a.split('?')[0] for a in assets)}):"
            f" {view.rps:,.0f} req/s = {view.rps / count:,.0f} views/s on uvloop"
            f" (assets go through Quart, not the fast path)"
        )
    else:
        notes.append("first-visit mix skipped: it needs wrk (apt-get install wrk)")
    if revalidations:
        reload = max(revalidations, key=lambda load: load.rps)
        if reload.errors:
            raise RuntimeError(f"revalidation: {reload.errors} failed requests")
        notes.append(
            line("uplight uvloop, 304", reload)
            + f" = {reload.rps / fast.rps:.2f} x the 200s: If-None-Match with the page's"
            " ETag, a reload within cache_ttl (not counted as views: the ETag changes"
            " with each snapshot)"
        )
    notes.append(
        "load average (1, 5, 15 min) before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after)
        + f" ({cores()} cores, shared)"
    )
    return [
        Comparison(
            name="status page (cached), uvloop",
            unit="requests/s",
            uplight=fast.rps,
            bare=best["bare uvloop"].rps,
            notes=tuple(notes),
        ),
        Comparison(
            name="status page (cached), asyncio",
            unit="requests/s",
            uplight=plain.rps,
            bare=best["bare asyncio"].rps,
        ),
    ]
