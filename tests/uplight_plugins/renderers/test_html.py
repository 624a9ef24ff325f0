"""The html renderer: page, fragment, incident permalink, 404, and its assets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from snapshots import (
    BASE_URL,
    component,
    find_all,
    history,
    incident,
    incident_page,
    maintenance,
    page_snapshot,
    parse_html,
    update,
)

from uplight import BANNER_LABELS, HISTORY_DAYS, STATUS_LABELS, Status
from uplight_plugins.renderers.html import (
    ASSETS,
    CELL_CLASSES,
    HtmlRenderer,
    history_cells,
    percent,
)

RENDERER = HtmlRenderer()


def render(snapshot: object, **params: object) -> str:
    return RENDERER.render(snapshot, **params).decode()


@pytest.mark.parametrize("status", list(Status))
def test_banner_shows_label_and_icon_for_every_level(status: Status) -> None:
    elements = parse_html(render(page_snapshot(status=status)))
    (banner,) = find_all(elements, "section", "banner")
    assert banner.attrs["data-status"] == status.value
    assert f"banner-{status.value}" in banner.classes
    assert banner.text.strip() == BANNER_LABELS[status]
    # The icon sits inside the banner: the shape, not only the colour, tells the state.
    index = elements.index(banner)
    assert f"icon-{status.value}" in elements[index + 1].classes


def test_every_level_has_its_own_icon_shape() -> None:
    shapes = set()
    for status in Status:
        markup = render(page_snapshot(status=status))
        svg = re.search(r'<svg class="icon icon-[a-z_]+".*?</svg>', markup, re.S)
        assert svg is not None
        shapes.add(re.sub(r'class="[^"]*"', "", svg.group(0)))
    assert len(shapes) == len(Status)


def test_components_show_status_word_icon_and_uptime() -> None:
    elements = parse_html(render(page_snapshot()))
    items = find_all(elements, "li", "component")
    by_id = {e.attrs["data-component-id"]: e for e in items}
    api = by_id["c-0b12e4"]
    assert api.attrs["data-status"] == "major_outage"
    assert "Public API" in api.text
    assert STATUS_LABELS[Status.MAJOR_OUTAGE] in api.text
    assert "98.5% uptime" in api.text
    assert "No data yet" in by_id["c-e2e2e2"].text
    assert len(find_all(elements, "svg", "icon-major_outage")) >= 1


def day_labels(markup: str) -> list[list[tuple[str, str]]]:
    """Per component, per day: (its accessible label, its cell's class).

    The labels come from the visually hidden list before the cells: runs of days
    (each checked against the range it names), then the words of all other days.
    """
    histories: list[dict[str, Any]] = []
    part = None
    for element in parse_html(markup):
        if element.tag == "div" and "history" in element.classes:
            histories.append({"runs": {}, "rest": None, "cells": []})
            part = None
        elif histories and element.tag == "ol" and "visually-hidden" in element.classes:
            histories[-1]["first"] = dt.date.fromisoformat(element.attrs["data-first"] or "")
            part = "runs"
        elif histories and element.tag == "div" and "cells" in element.classes:
            assert element.attrs["aria-hidden"] == "true"  # the list says it in words
            part = "cells"
        elif part == "runs" and element.tag == "li":
            span, words = element.text.split(": ", 1)
            if "data-rest" in element.attrs:
                assert span == "All other days" and histories[-1]["rest"] is None
                histories[-1]["rest"] = words
                continue
            days = int(element.attrs.get("data-n") or 1)
            first, _, last = span.partition(" to ")
            start = dt.date.fromisoformat(first)
            dates = [start + dt.timedelta(days=k) for k in range(days)]
            assert dates[-1] == dt.date.fromisoformat(last or first), element.text
            for date in dates:
                assert date not in histories[-1]["runs"]
                histories[-1]["runs"][date] = words
        elif part == "cells" and element.tag == "i":
            assert not element.text and list(element.attrs) == ["class"]
            histories[-1]["cells"].append(element.attrs["class"] or "")
        else:
            part = None
    out = []
    for h in histories:
        dates = [h["first"] + dt.timedelta(days=k) for k in range(len(h["cells"]))]
        assert set(h["runs"]) <= set(dates)
        words = [h["runs"].get(date, h["rest"]) for date in dates]
        assert None not in words  # every day has its words
        labels = [f"{date.isoformat()}: {w}" for date, w in zip(dates, words, strict=True)]
        out.append(list(zip(labels, h["cells"], strict=True)))
    return out


def test_history_has_90_cells_with_accessible_names() -> None:
    markup = render(page_snapshot())
    elements = parse_html(markup)
    histories = find_all(elements, "div", "history")
    assert len(histories) == 5
    assert all(h.attrs["role"] == "group" for h in histories)
    days = day_labels(markup)
    assert [len(d) for d in days] == [HISTORY_DAYS] * 5
    label = re.compile(r"^\d{4}-\d{2}-\d{2}: (no data|maintenance|\d+(\.\d+)?% uptime, [a-z ]+)$")
    classes = set(CELL_CLASSES.values())
    for label_text, cell in (day for one in days for day in one):
        assert label.match(label_text), label_text
        assert cell in classes
    website = days[0]  # first component: no data for its first 30 days
    assert website[0] == ("2026-08-23: no data", CELL_CLASSES[Status.NO_DATA])
    assert website[70][0] == "2026-11-01: 98.26% uptime, partial outage"
    assert website[-1][0] == "2026-11-20: 100% uptime, operational"
    nextcloud = days[2]
    assert nextcloud[60][1] == CELL_CLASSES[Status.MAINTENANCE]
    assert nextcloud[60][0].endswith("maintenance")


def test_history_cells_are_light() -> None:
    """A page of 1,000 components x 90 days was 14.4 MB, 160 bytes a cell (issue 11,
    point 5): a cell is now a bare box, and days that read alike one list item."""
    snap = page_snapshot()
    for c in snap.components:
        markup = history_cells(c.history)
        assert markup in render(snap, view="fragment")
        assert len(markup) / len(c.history) < 30, (c.name, len(markup))
    clean = history_cells(history())
    assert clean.count("<li") == 1 and f'<li data-n="{HISTORY_DAYS}">' in clean
    # The usual day is said once; only the days that differ are listed.
    bad = history(overrides={10: Status.MAJOR_OUTAGE, 11: Status.MAJOR_OUTAGE})
    markup = history_cells(bad)
    assert markup.count("<li") == 2 and "All other days: 100% uptime, operational" in markup


def test_groups_in_order_with_ungrouped_last() -> None:
    elements = parse_html(render(page_snapshot()))
    headings = [e.text for e in find_all(elements, "h3", "group-name")]
    assert headings == ["Public services", "Home", "Other components"]
    ids = [e.attrs["data-component-id"] for e in find_all(elements, "li", "component")]
    assert ids == ["c-7f3a9d", "c-0b12e4", "c-5c44aa", "c-91d0fe", "c-e2e2e2"]


def test_a_page_without_groups_has_no_group_headings() -> None:
    comps = (component("a", "Alpha"), component("b", "Beta"))
    elements = parse_html(render(page_snapshot(components=comps)))
    assert find_all(elements, "h3", "group-name") == []
    assert len(find_all(elements, "li", "component")) == 2


def test_incidents_and_maintenance_are_listed() -> None:
    elements = parse_html(render(page_snapshot()))
    active = find_all(elements, "section", "incidents-active")[0]
    assert "Public API major outage" in active.text
    assert "A disk filled up on the API host." in active.text  # the latest update
    assert "We are looking into" not in active.text  # older updates: permalink only
    links = [e.attrs["href"] for e in find_all(elements, "a")]
    assert "/status/incidents/12" in links and "/status/incidents/9" in links
    recent = find_all(elements, "section", "incidents-recent")[0]
    assert "Website degraded" in recent.text
    maintenance = find_all(elements, "section", "maintenance-list")[0]
    assert "Nextcloud upgrade" in maintenance.text and "Router firmware" in maintenance.text
    history_section = find_all(elements, "section", "maintenance-recent")[0]
    assert "Maintenance history (4)" in history_section.text
    assert "Cancelled" in history_section.text


def test_quiet_page_says_so() -> None:
    snap = page_snapshot(
        status=Status.NO_DATA,
        components=(),
        active_incidents=(),
        recent_incidents=(),
        active_maintenance=(),
        upcoming_maintenance=(),
        recent_maintenance=(),
    )
    markup = render(snap)
    assert "No components are on this page yet." in markup
    assert "No incidents in the last 14 days." in markup
    assert "maintenance-list" not in markup and "incidents-active" not in markup


def test_every_timestamp_is_a_time_element_in_utc() -> None:
    elements = parse_html(render(page_snapshot()))
    times = find_all(elements, "time")
    assert len(times) > 10
    for element in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", element.attrs["datetime"] or "")
        assert element.text.endswith(" UTC")
    updated = find_all(elements, "p", "updated")[0]
    assert updated.text == "Updated 2026-11-20 10:00 UTC"


@pytest.mark.parametrize(
    "view",
    ["page", "fragment", "incident", "not_found"],
)
def test_no_inline_style_script_or_handlers(view: str) -> None:
    """The CSP forbids inline script and style: the markup must not need them."""
    if view == "incident":
        markup = render(incident_page())
    elif view == "not_found":
        markup = render(None, view="not_found", base_url=BASE_URL)
    else:
        markup = render(page_snapshot(), view=view)
    elements = parse_html(markup)
    for element in elements:
        assert "style" not in element.attrs, element
        assert not [a for a in element.attrs if a.startswith("on")], element
        assert not str(element.attrs.get("href") or "").startswith("javascript:")
    assert find_all(elements, "style") == []
    for script in find_all(elements, "script"):
        assert script.attrs.get("src") and script.text.strip() == ""
    if view != "fragment":
        scripts = find_all(elements, "script")
        assert [s.attrs["src"] for s in scripts] == [
            f"/assets/html/status.js?v={_hash('status.js')}"
        ]


def _hash(name: str) -> str:
    return hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:12]


def test_fragment_is_the_live_region_only() -> None:
    snap = page_snapshot()
    page = render(snap)
    fragment = render(snap, view="fragment")
    for whole_page_only in ("<html", "<head", "<body", 'id="live"', "<h1", "<script"):
        assert whole_page_only not in fragment
    assert fragment.strip() in page  # the page embeds exactly the fragment
    elements = parse_html(fragment)
    assert [e.tag for e in elements[:1]] == ["section"] and "banner" in elements[0].classes
    assert sum(len(days) for days in day_labels(fragment)) == 5 * HISTORY_DAYS


def test_live_region_points_at_the_fragment_of_its_page() -> None:
    elements = parse_html(render(page_snapshot(), refresh_seconds=7))
    (live,) = [e for e in elements if e.attrs.get("id") == "live"]
    assert live.attrs["data-fragment-url"] == "/status/fragment"
    assert live.attrs["data-refresh-seconds"] == "7"
    other = page_snapshot(slug="lab", page_url=f"{BASE_URL}/status/pages/lab")
    elements = parse_html(render(other))
    (live,) = [e for e in elements if e.attrs.get("id") == "live"]
    assert live.attrs["data-fragment-url"] == "/status/pages/lab/fragment"
    assert live.attrs["data-refresh-seconds"] == "30"  # the documented default
    feeds = [e.attrs["href"] for e in find_all(elements, "a")]
    assert "/api/public/v1/incidents.rss?page=lab" in feeds
    assert "/api/public/v1/status.json?page=lab" in feeds


def test_asset_url_callable_is_used_for_every_asset() -> None:
    markup = render(page_snapshot(), asset_url=lambda name: f"/static/{name}?h=1")
    assert 'href="/static/status.css?h=1"' in markup
    assert 'src="/static/status.js?h=1"' in markup
    assert "/assets/html/" not in markup


def test_assets_exist_and_load_nothing_from_elsewhere() -> None:
    assert RENDERER.assets_dir == ASSETS
    names = {p.name for p in ASSETS.iterdir()}
    assert {"status.css", "status.js", "favicon.svg"} <= names
    script = (ASSETS / "status.js").read_text()
    css = (ASSETS / "status.css").read_text()
    assert "http://" not in script and "https://" not in script  # no CDN, no beacon
    assert "@import" not in css and "url(" not in css
    assert "prefers-color-scheme: dark" in css  # dark mode
    assert "max-width" in css  # responsive
    for status in Status:  # every level has its colour, icon colour and cell style
        assert f".icon-{status.value}" in css and f".cells > .{CELL_CLASSES[status]}" in css


def test_incident_page_has_the_full_timeline() -> None:
    view = incident(
        31,
        "Mail delays",
        severity="critical",
        ended=True,
        components=("Mail", "Webmail"),
        description="Outgoing mail queued.",
        updates=(
            update("investigating", "Mail is slow.", 50),
            update("identified", "A relay is down.", 40),
            update("monitoring", "Relay replaced.", 30),
            update("resolved", "All queued mail delivered.", 20),
        ),
    )
    markup = render(incident_page(view))
    elements = parse_html(markup)
    assert find_all(elements, "h1")[0].text == "Mail delays"
    entries = find_all(elements, "li", "timeline-entry")
    assert [e.classes[1] for e in entries] == [
        "phase-resolved",
        "phase-monitoring",
        "phase-identified",
        "phase-investigating",
    ]
    assert "All queued mail delivered." in entries[0].text
    facts = find_all(elements, "dl", "facts")[0].text
    for text in ("Resolved", "Critical", "Mail, Webmail", "2026-11-20 09:15 UTC"):
        assert text in facts
    assert "Outgoing mail queued." in markup
    back = find_all(elements, "p", "back")[0]
    # Issue 10, point 12: the page's title as it is, not "… status status".
    assert back.text.strip() == "← Example Homelab"
    assert 'href="/status"' in markup
    assert "Older updates" not in markup and "Newer updates" not in markup  # one part only


@pytest.mark.parametrize("title", ["Example status", "Homelab"])
def test_the_permalink_back_link_names_the_page_once(title: str) -> None:
    page = dataclasses.replace(incident_page(), page_title=title)
    back = find_all(parse_html(render(page)), "p", "back")[0]
    assert back.text.strip() == f"← {title}"


def test_a_long_timeline_links_to_its_older_and_newer_parts() -> None:
    """Issue 10, point 21: the part shown, where it sits, and links around it."""
    link = f"{BASE_URL}/status/incidents/12"
    updates = tuple(update("monitoring", f"update {n}", 100 - n) for n in range(70, 20, -1))
    view = dataclasses.replace(incident_page().incident, updates=updates, latest_update=updates[0])
    page = dataclasses.replace(
        incident_page(view),
        update_count=3000,
        newest_shown=70,
        older_url=f"{link}?before=21",
        newer_url=f"{link}?before=121",
    )
    markup = render(page)
    elements = parse_html(markup)
    assert len(find_all(elements, "li", "timeline-entry")) == 50
    assert (
        "Updates 21\u201370 of 3000, newest first."
        in find_all(elements, "p", "timeline-range")[0].text
    )
    pagers = find_all(elements, "nav", "pager")
    assert len(pagers) == 2  # above and below the updates
    hrefs = [e.attrs["href"] for e in find_all(elements, "a") if e.attrs.get("rel")]
    # In-page links are paths: they stay on the origin the visitor is on.
    assert hrefs == ["/status/incidents/12?before=121", "/status/incidents/12?before=21"] * 2
    newest = dataclasses.replace(page, newer_url=None, newest_shown=3000)
    assert "Newer updates" not in render(newest) and "Older updates" in render(newest)


def test_incident_page_without_updates() -> None:
    markup = render(incident_page(incident(3, "Quiet one")))
    assert "No updates have been posted yet." in markup
    assert "Ongoing" in markup


def test_not_found_view_links_home_under_the_base_path() -> None:
    markup = render(None, view="not_found", base_url="https://example.org/uplight/")
    elements = parse_html(markup)
    assert find_all(elements, "h1")[0].text == "Not found"
    assert [e.attrs["href"] for e in find_all(elements, "a")][-1] == "/uplight/status"


def test_unknown_input_is_refused() -> None:
    with pytest.raises(TypeError):
        RENDERER.render(object())
    with pytest.raises(ValueError):
        RENDERER.render(page_snapshot(), view="bogus")


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "no data"), (100.0, "100%"), (99.996, "99.99%"), (98.5, "98.5%"), (0.0, "0%")],
)
def test_percent_rounds_down(value: float | None, text: str) -> None:
    assert percent(value) == text


def test_output_is_deterministic() -> None:
    snap = page_snapshot()
    assert RENDERER.render(snap) == RENDERER.render(dataclasses.replace(snap))


def test_rate_limited_view_is_a_page_linking_home() -> None:
    """Issue 10, point 18: what a browser gets with a 429 on an HTML route."""
    markup = render(None, view="rate_limited", base_url="https://example.org/uplight/")
    elements = parse_html(markup)
    assert find_all(elements, "h1")[0].text == "Too many requests"
    assert "Wait a few seconds, then reload." in markup
    assert [e.attrs["href"] for e in find_all(elements, "a")][-1] == "/uplight/status"
    assert "<script>" not in markup and "style=" not in markup


def test_maintenance_shows_its_severity_as_text() -> None:
    """Issue 10, point 16: the severity in words, as incidents show theirs."""
    windows = tuple(
        maintenance(n, f"W{n}", severity=severity)
        for n, severity in enumerate(("info", "warning", "critical"))
    )
    snap = page_snapshot(
        active_incidents=(),
        recent_incidents=(),
        active_maintenance=(),
        upcoming_maintenance=windows,
        recent_maintenance=(),
    )
    elements = parse_html(render(snap, view="fragment"))
    items = find_all(elements, "article", "maintenance")
    words = [e.text for e in find_all(elements, "span", "severity")]
    assert words == ["Informational", "Warning", "Critical"]
    for item, window, word in zip(items, windows, words, strict=True):
        assert f"severity-{window.severity}" in item.classes  # the colour stays
        assert f"Scheduled · {word} · " in item.text


def test_a_window_completed_early_shows_when_it_ended() -> None:
    """Issue 10, point 13: the real end on the page, the plan beside it."""
    planned = maintenance(7, "Disk swap", status="completed", starts_in_hours=-2, hours=1)
    early = dataclasses.replace(planned, completed_at=planned.starts_at + dt.timedelta(minutes=11))
    on_time = dataclasses.replace(planned, id=8, completed_at=planned.ends_at)
    snap = page_snapshot(
        active_maintenance=(), upcoming_maintenance=(), recent_maintenance=(early, on_time)
    )
    items = find_all(parse_html(render(snap)), "article", "maintenance")
    early_text, on_time_text = (" ".join(i.text.split()) for i in items)
    assert "2026-11-20 08:00 UTC \u2013 2026-11-20 08:11 UTC" in early_text
    assert "ended early; planned until 2026-11-20 09:00 UTC" in early_text
    assert "2026-11-20 08:00 UTC \u2013 2026-11-20 09:00 UTC" in on_time_text
    assert "ended early" not in on_time_text


def test_maintenance_cell_label_reads_as_maintenance() -> None:
    cells = history(overrides={89: Status.MAINTENANCE})
    snap = page_snapshot(components=(component("m", "Mail", cells=cells),))
    last = day_labels(render(snap))[0][-1]
    assert last == ("2026-11-20: 97.9% uptime, maintenance", CELL_CLASSES[Status.MAINTENANCE])


def test_a_maintenance_day_with_nothing_counted_reads_as_maintenance() -> None:
    """Every check of the day failed during maintenance (point 17): no uptime to show."""
    cells = history(overrides={89: Status.MAINTENANCE})
    cells = (*cells[:-1], dataclasses.replace(cells[-1], uptime=None))
    snap = page_snapshot(components=(component("m", "Mail", cells=cells),))
    last = day_labels(render(snap))[0][-1]
    assert last == ("2026-11-20: maintenance", CELL_CLASSES[Status.MAINTENANCE])
