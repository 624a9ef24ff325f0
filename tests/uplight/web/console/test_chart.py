"""The monitor page's latency chart: SVG from points, for no data, one point, gaps,
results without a latency and outliers; accessible, and without inline style."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from uplight.web.console.chart import Point, latency_chart, milliseconds

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def minute(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def draw(points: list[Point], **kwargs: object) -> ET.Element:
    svg = str(latency_chart(points, start=T0, end=T0 + HOUR, **kwargs))  # type: ignore[arg-type]
    assert "style" not in svg  # the console's CSP refuses inline style
    return ET.fromstring(svg)  # well-formed XML, or this raises


def every(root: ET.Element, tag: str) -> list[ET.Element]:
    return root.findall(f".//{SVG}{tag}")


def desc(root: ET.Element) -> str:
    return every(root, "desc")[0].text or ""


def steady(count: int, latency: float = 0.05, step: float = 1.0) -> list[Point]:
    return [Point(minute(i * step), latency, "up") for i in range(count)]


def test_no_data_says_so() -> None:
    root = draw([])
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "latency-title latency-desc"
    assert every(root, "title")[0].text == "Latency"
    assert any(t.text == "No results in this period" for t in every(root, "text"))
    assert not every(root, "polyline") and not every(root, "circle")
    assert desc(root).startswith("No results from 2026-03-01 12:00 to 2026-03-01 13:00 UTC")


def test_one_point_is_a_dot() -> None:
    root = draw([Point(minute(30), 0.12, "up")])
    assert not every(root, "polyline")
    [dot] = every(root, "circle")
    assert dot.get("class") == "point"
    assert float(dot.get("cx") or 0) > 64  # inside the plot, half way along
    assert "1 result from" in desc(root) and "median 120 ms" in desc(root)


def test_a_steady_series_is_one_line_on_a_nice_scale() -> None:
    root = draw(steady(60, 0.042))
    [line] = every(root, "polyline")
    assert len((line.get("points") or "").split()) == 60
    assert line.get("fill") == "none"
    labels = [t.text for t in every(root, "text")]
    assert "50 ms" in labels and "0 ms" in labels  # 42 ms rounds up to a 50 ms top
    assert not every(root, "polygon")


def test_a_gap_breaks_the_line() -> None:
    points = steady(20) + [Point(minute(40 + i), 0.05, "up") for i in range(10)]
    root = draw(points)
    assert len(every(root, "polyline")) == 2
    # Told the expected spacing: a 20-minute silence within it is no gap.
    assert len(every(draw(points, gap=30 * 60), "polyline")) == 1
    # Results sparser than the expected spacing throughout are a line, not dots.
    sparse = draw(steady(12, step=5), gap=60)
    assert len(every(sparse, "polyline")) == 1 and not every(sparse, "circle")


def test_a_lone_point_between_gaps_is_a_dot_and_a_result_without_latency_breaks() -> None:
    points = [*steady(10), Point(minute(30), 0.05, "up")]
    points += [Point(minute(50 + i), 0.05, "up") for i in range(5)]
    root = draw(points)
    assert len(every(root, "polyline")) == 2
    assert [c.get("class") for c in every(root, "circle")] == ["point"]
    down = [*steady(5), Point(minute(5), None, "down"), *steady(10)[6:]]
    root = draw(down)
    assert len(every(root, "polyline")) == 2
    [mark] = every(root, "circle")
    assert mark.get("class") == "mark status-down"
    assert mark.get("cy") == "192"  # on the baseline: nothing was measured
    assert "1 down" in desc(root)


def test_an_outlier_does_not_flatten_the_rest() -> None:
    points = steady(30, 0.04)
    points[10] = Point(minute(10), 9.0, "degraded")
    root = draw(points)
    labels = [t.text for t in every(root, "text")]
    assert "9 s" not in labels and "100 ms" in labels  # 1.5 times 40 ms, rounded up
    [triangle] = every(root, "polygon")
    assert triangle.get("class") == "outlier status-degraded"
    text = desc(root)
    assert "highest 9 s" in text and "1 above the scale's top of 100 ms" in text
    assert "1 degraded" in text
    # Few points: each is on the scale, however far apart.
    few = draw([Point(minute(1), 0.01, "up"), Point(minute(2), 2.0, "up")])
    assert not every(few, "polygon") and "2 s" in [t.text for t in every(few, "text")]


def test_points_outside_the_period_are_left_out_and_text_is_escaped() -> None:
    points = [Point(T0 - HOUR, 0.05, "down"), *steady(3), Point(T0 + 2 * HOUR, 0.05, "up")]
    root = draw(points, title="<Web> & co", ident="web")
    assert "3 results" in desc(root) and "down" not in desc(root)
    assert every(root, "title")[0].text == "<Web> & co"
    assert every(root, "title")[0].get("id") == "web-title"


def test_milliseconds_read_as_a_person_reads_them() -> None:
    assert [milliseconds(v) for v in (0.25, 4.5, 42.0, 999.4, 1500.0, 2000.0)] == [
        "0.25 ms",
        "4.5 ms",
        "42 ms",
        "999 ms",
        "1.5 s",
        "2 s",
    ]
