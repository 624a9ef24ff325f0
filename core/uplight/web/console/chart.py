"""A latency chart as inline SVG, drawn on the server: no chart library, no script.

Pure: ``(time, latency, status)`` points in, SVG text out. The console's CSP forbids
inline ``style`` attributes, so colours come from classes in ``console.css`` (light
and dark), and only geometry and ``fill="none"`` are attributes. It reads as an
image with a ``<title>`` and a ``<desc>`` that says what it shows in words.

- No point: a frame that says so.
- One point, or a run of one between gaps: a dot, since a line needs two.
- Gaps: the line breaks where results are missing (a stretch without one longer
  than three times the usual spacing, or than ``gap`` seconds if that is longer)
  and at a result without a latency, so nothing is drawn where nothing was measured.
- Outliers: one slow result must not flatten the rest. When the slowest is more than
  twice the 95th percentile, the scale stops at 1.5 times that percentile; results
  above it are drawn at the top as upward triangles (class ``outlier``), their
  count said in the description.
- Degraded and down results get a dot of their status's colour (down ones without a
  latency sit on the baseline).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28  # room for the axis labels
OUTLIER_RATIO = 2.0  # slowest over the 95th percentile beyond which the scale is cut
HEADROOM = 1.5  # the cut scale's top, over the 95th percentile
MIN_FOR_OUTLIERS = 5  # fewer points: every one is shown on the scale

XScale = Callable[[dt.datetime], float]
YScale = Callable[[float], float]  # milliseconds to a y coordinate


@dataclass(frozen=True, slots=True)
class Point:
    at: dt.datetime
    latency: float | None  # seconds; None when the check measured none
    status: str  # up, degraded or down


def _nice(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def milliseconds(value: float) -> str:
    """A latency in milliseconds, as a person reads it."""
    if value >= 1000:
        return f"{value / 1000:g} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.3g} ms"


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[index]


def _scale_top(latencies: list[float]) -> tuple[float, bool]:
    """The top of the y scale (milliseconds) and whether it cuts outliers off."""
    if not latencies:
        return 1.0, False
    ordered = sorted(latencies)
    highest = ordered[-1]
    if len(ordered) >= MIN_FOR_OUTLIERS:
        p95 = _percentile(ordered, 0.95)
        if p95 > 0 and highest > OUTLIER_RATIO * p95:
            return _nice(p95 * HEADROOM), True
    return _nice(highest), False


def _gap(points: Sequence[Point], gap: float | None) -> float:
    """Seconds without a result that break the line: three times the usual spacing, or
    ``gap`` if longer (a monitor checked less often than it says is not all gaps)."""
    spacings = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(points) if b.at > a.at]
    usual = 3 * statistics.median(spacings) if spacings else 0.0
    return max(usual, gap or 0.0) or math.inf


def _time(at: dt.datetime, span: dt.timedelta) -> str:
    at = at.astimezone(dt.UTC)
    return at.strftime("%H:%M") if span <= dt.timedelta(days=1) else at.strftime("%m-%d %H:%M")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def latency_chart(
    points: Sequence[Point],
    *,
    start: dt.datetime,
    end: dt.datetime,
    gap: float | None = None,
    title: str = "Latency",
    ident: str = "latency",
) -> Markup:
    """The chart of ``points`` between ``start`` and ``end`` (points outside are left
    out). ``gap``: seconds without a result that break the line. ``ident``: the
    prefix of the ids its title and description take (unique on a page)."""
    if end <= start:
        end = start + dt.timedelta(seconds=1)
    shown = sorted((p for p in points if start <= p.at <= end), key=lambda p: p.at)
    span = end - start
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    latencies = [p.latency * 1000 for p in shown if p.latency is not None]
    top, cut = _scale_top(latencies)

    def x(at: dt.datetime) -> float:
        return LEFT + (at - start) / span * plot_w

    def y(ms: float) -> float:
        return TOP + plot_h - min(ms, top) / top * plot_h

    parts: list[str] = []
    for fraction in (0.0, 0.5, 1.0):
        gy = TOP + plot_h - fraction * plot_h
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{_num(gy)}" x2="{LEFT + plot_w}" y2="{_num(gy)}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{_num(gy + 4)}" text-anchor="end">'
            f"{escape(milliseconds(top * fraction))}</text>"
        )
    for at, anchor in ((start, "start"), (start + span / 2, "middle"), (end, "end")):
        parts.append(
            f'<text class="axis" x="{_num(x(at))}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(_time(at, span))}</text>"
        )

    if not shown:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}"'
            ' text-anchor="middle">No results in this period</text>'
        )
    else:
        parts.extend(_lines(shown, _gap(shown, gap), x, y))
        parts.extend(_marks(shown, top, x, y))

    description = _describe(shown, latencies, top, cut, start, end)
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' aria-labelledby="{ident}-title {ident}-desc"'
        ' xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"'
        ' fill="none"/>' + "".join(parts) + "</svg>"
    )


def _lines(points: Sequence[Point], gap: float, x: XScale, y: YScale) -> list[str]:
    """One polyline per run of measured results, a dot for a run of one."""
    runs: list[list[Point]] = []
    run: list[Point] = []
    previous: Point | None = None
    for point in points:
        broken = previous is not None and (point.at - previous.at).total_seconds() > gap
        if point.latency is None or broken:
            if run:
                runs.append(run)
            run = []
        if point.latency is not None:
            run.append(point)
        previous = point
    if run:
        runs.append(run)
    drawn: list[str] = []
    for run in runs:
        coordinates = [(x(p.at), y(p.latency * 1000)) for p in run if p.latency is not None]
        if len(coordinates) == 1:
            cx, cy = coordinates[0]
            drawn.append(f'<circle class="point" cx="{_num(cx)}" cy="{_num(cy)}" r="3"/>')
        else:
            joined = " ".join(f"{_num(cx)},{_num(cy)}" for cx, cy in coordinates)
            drawn.append(f'<polyline class="line" fill="none" points="{joined}"/>')
    return drawn


def _marks(points: Sequence[Point], top: float, x: XScale, y: YScale) -> list[str]:
    """A dot per degraded or down result; a triangle per result above the scale."""
    drawn: list[str] = []
    for point in points:
        px = x(point.at)
        ms = point.latency * 1000 if point.latency is not None else None
        if ms is not None and ms > top:
            py = y(top)
            drawn.append(
                f'<polygon class="outlier status-{escape(point.status)}"'
                f' points="{_num(px - 4)},{_num(py + 6)} {_num(px + 4)},{_num(py + 6)}'
                f' {_num(px)},{_num(py - 1)}"/>'
            )
        elif point.status != "up":
            py = y(ms if ms is not None else 0.0)
            drawn.append(
                f'<circle class="mark status-{escape(point.status)}"'
                f' cx="{_num(px)}" cy="{_num(py)}" r="3"/>'
            )
    return drawn


def _describe(
    points: Sequence[Point],
    latencies: list[float],
    top: float,
    cut: bool,
    start: dt.datetime,
    end: dt.datetime,
) -> str:
    when = f"from {start.astimezone(dt.UTC):%Y-%m-%d %H:%M} to {end.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if not points:
        return f"No results {when}."
    words = [f"{len(points)} result{'s' if len(points) != 1 else ''} {when}"]
    if latencies:
        words.append(
            f"latency median {milliseconds(statistics.median(latencies))},"
            f" highest {milliseconds(max(latencies))}"
        )
    for status in ("degraded", "down"):
        count = sum(1 for p in points if p.status == status)
        if count:
            words.append(f"{count} {status}")
    if cut:
        above = sum(1 for ms in latencies if ms > top)
        words.append(f"{above} above the scale's top of {milliseconds(top)}, drawn as triangles")
    return "; ".join(words) + "."
