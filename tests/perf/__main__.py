"""``python -m tests.perf [--quick] [--only NAME]``: run the benchmarks (``--help`` lists the names).

The soak runs for minutes (``UPLIGHT_SOAK_SECONDS`` sets how long; ``--quick``: 60 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from . import (
    bench_config,
    bench_loop,
    bench_page,
    bench_ping,
    bench_probe,
    bench_scheduler,
    bench_scrape,
    bench_snapshot,
    bench_soak,
    bench_storage,
    bench_store,
)
from .common import Comparison, machine_facts, print_facts, print_notes, print_table

# A benchmark returns one comparison, or several measured in the same runs.
BENCHMARKS: dict[str, Callable[[bool], Comparison | list[Comparison]]] = {
    "store": bench_store.run,
    "storage": bench_storage.run,
    "scheduler": bench_scheduler.run,
    "lag": bench_scheduler.run_lag,
    "snapshot": bench_snapshot.run_compute,
    "page": bench_snapshot.run_cold_path,
    "bigpage": bench_snapshot.run_big_page,
    "serve": bench_page.run,
    "loop": bench_loop.run,
    "ping": bench_ping.run,
    "probe": bench_probe.run,
    "config": bench_config.run,
    "soak": bench_soak.run,
    "scrape": bench_scrape.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (a few seconds)")
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run just this one"
    )
    args = parser.parse_args(argv)
    print_facts(machine_facts())
    started = time.perf_counter()
    results = []
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        began = time.perf_counter()
        result = bench(args.quick)
        for comparison in result if isinstance(result, list) else [result]:
            results.append(comparison)
            print_notes(comparison)
        print(f"  took {time.perf_counter() - began:.1f} s")
    print()
    print_table(results)
    print()
    print("ratio = uplight / bare, or bare / uplight for costs (ms): 1.00 = as good as bare")
    mode = "quick" if args.quick else "full"
    print(f"{mode} run, {time.perf_counter() - started:.1f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
