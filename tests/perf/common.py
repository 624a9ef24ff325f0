"""Shared pieces of the benchmarks: machine facts, results, the table."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Comparison:
    """One benchmark: uplight's figure against the bare baseline's, in the same unit.

    A rate by default; ``lower_is_better`` for costs such as milliseconds, so that
    the ratio always reads the same way: 1.00 is as good as the baseline, less is worse.
    """

    name: str
    unit: str
    uplight: float
    bare: float
    notes: tuple[str, ...] = field(default=())
    lower_is_better: bool = False

    @property
    def ratio(self) -> float:
        better, worse = (
            (self.bare, self.uplight) if self.lower_is_better else (self.uplight, self.bare)
        )
        return better / worse if worse else float("nan")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine_facts() -> list[tuple[str, str]]:
    return [
        ("cpu", cpu_model()),
        ("cores", str(cores())),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("sqlite", sqlite3.sqlite_version),
        ("platform", platform.platform()),
    ]


def print_facts(facts: Iterable[tuple[str, str]]) -> None:
    for key, value in facts:
        print(f"{key:<9} {value}")
    print()


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def print_table(comparisons: Iterable[Comparison]) -> None:
    rows = [
        (c.name, c.unit, fmt_rate(c.uplight), fmt_rate(c.bare), f"{c.ratio:.2f}")
        for c in comparisons
    ]
    header = ("benchmark", "unit", "uplight", "bare", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    aligns = ["<", "<", ">", ">", ">"]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(cells, aligns, widths, strict=True))

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def print_notes(comparison: Comparison) -> None:
    print(f"[{comparison.name}]")
    for note in comparison.notes:
        print(f"  {note}")
