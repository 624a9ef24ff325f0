"""Nagios plugin output: the status line, the long output and the performance data.

The format is the monitoring-plugins development guidelines' (the same Nagios,
Icinga and Naemon read)::

    DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968
    optional long output, line 1
    line 2 | more perfdata
    more perfdata

Each performance item is ``'label'=value[UOM];[warn];[crit];[min];[max]``; a label
with spaces is quoted, ``''`` stands for a quote inside it, and ``U`` is a value the
plugin could not measure. Items that do not parse are skipped and counted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 64  # more than any plugin prints; a runaway one costs nothing beyond this
_ITEM = re.compile(r"\s*(?:'(?P<quoted>(?:[^']|'')+)'|(?P<plain>[^\s'=]+))=(?P<data>\S*)")
_VALUE = re.compile(
    r"(?P<number>[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?|U)(?P<unit>[A-Za-z%]*)"
)
# Units turned into Prometheus base units (seconds, bytes) for /metrics. Sizes are
# binary, as monitoring-plugins print them (check_disk's "MB" is 1024 * 1024 bytes).
BASE_UNITS = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "B": 1.0,
    "KB": 1024.0,
    "MB": 1024.0**2,
    "GB": 1024.0**3,
    "TB": 1024.0**4,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
    "TiB": 1024.0**4,
}


@dataclass(frozen=True, slots=True)
class PerfValue:
    label: str
    value: float | None  # None: "U", the plugin could not measure it
    unit: str
    warn: str | None  # ranges, as printed: "10", "~:5", "@10:20"
    crit: str | None
    min: float | None
    max: float | None

    def base_value(self) -> float | None:
        """The value in seconds or bytes when the unit is a time or a size, else as printed."""
        if self.value is None:
            return None
        return self.value * BASE_UNITS.get(self.unit, 1.0)

    def as_details(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "warn": self.warn,
            "crit": self.crit,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True, slots=True)
class PluginOutput:
    text: str  # the first line, before "|"
    long_text: str  # the lines after it, without their performance data
    perfdata: tuple[PerfValue, ...]
    skipped: int  # performance items that did not parse (or beyond MAX_ITEMS)


def parse_output(output: str) -> PluginOutput:
    first, _, rest = output.partition("\n")
    text, _, perf = first.partition("|")
    long_lines: list[str] = []
    lines = rest.split("\n") if rest else []
    for index, line in enumerate(lines):
        if "|" in line:
            before, _, after = line.partition("|")
            long_lines.append(before)
            perf += " " + " ".join([after, *lines[index + 1 :]])
            break
        long_lines.append(line)
    items, skipped = parse_perfdata(perf)
    long_text = "\n".join(line.rstrip() for line in long_lines).strip("\n")
    return PluginOutput(text.strip(), long_text, items, skipped)


def parse_perfdata(text: str) -> tuple[tuple[PerfValue, ...], int]:
    items: list[PerfValue] = []
    skipped, pos = 0, 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _ITEM.match(text, pos)
        item = _item(match) if match else None
        if match is None or item is None or len(items) >= MAX_ITEMS:
            skipped += 1
            end = match.end() if match else _next_space(text, pos)
            pos = max(end, pos + 1)
            continue
        items.append(item)
        pos = match.end()
    return tuple(items), skipped


def _next_space(text: str, pos: int) -> int:
    found = re.compile(r"\s").search(text, pos)
    return found.start() if found else len(text)


def _item(match: re.Match[str]) -> PerfValue | None:
    label = match["quoted"].replace("''", "'") if match["quoted"] else match["plain"]
    fields = match["data"].split(";")
    value = _VALUE.fullmatch(fields[0])
    if not label.strip() or value is None:
        return None
    number = None if value["number"] == "U" else _number(value["number"])
    if value["number"] != "U" and number is None:
        return None
    fields += [""] * (5 - len(fields))
    return PerfValue(
        label=label,
        value=number,
        unit=value["unit"],
        warn=fields[1] or None,
        crit=fields[2] or None,
        min=_number(fields[3]),
        max=_number(fields[4]),
    )


def _number(text: str) -> float | None:
    # A plugin run under a decimal-comma locale may print "0,5".
    try:
        number = float(text.replace(",", ".")) if text else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
