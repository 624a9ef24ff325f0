"""Text the admin API stores, on every route that takes it (issue 10, points 9 and 10).

Point 9: control characters, bidirectional overrides and isolates and their kin are
refused with ``INVALID_CHARACTER`` naming the field; long-form text keeps newlines
and tabs. Point 10: every message has one shape, ``"<field>: <what is wrong>"``,
and never repeats the field's name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from uplight.models import CheckResult, ResultRecord

INCIDENTS = "/api/v1/incidents"
MAINTENANCE = "/api/v1/maintenance"
PAGES = "/api/v1/status-pages"

HOSTILE = {
    "NUL": "Web\x00server",
    "ESC": "Web\x1b[2Jserver",
    "C1": "Web\x85server",
    "DEL": "Web\x7fserver",
    "RLO": "Web \u202eipa",
    "LRE": "Web \u202aipa",
    "LRI": "Web \u2066ipa\u2069",
    "PDI": "Web ipa\u2069",
    "line separator": "Web\u2028server",
    "noncharacter": "Web\ufffe",
    "lone CR": "Web\rserver",
}
LONG_FORM_OK = "First line\nsecond line\r\n\tindented, \u05e9\u05dc\u05d5\u05dd\u200f, \U0001f468\u200d\U0001f4bb"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


async def _setup(api: Any) -> dict[str, str]:
    """An incident, a window and an API page with a component: one of each to write to."""
    monitor = api.runtime.config.monitor("web")
    at = api.clock.now()
    for _ in range(2):
        record = ResultRecord("web", at, CheckResult.down("refused"))
        await api.runtime.incidents.observe(monitor, record)
        at += dt.timedelta(minutes=1)
        api.clock.set(at)
    _, listed = await api.call("GET", f"{INCIDENTS}?active=true")
    incident = listed["items"][0]["id"]
    starts = api.clock.now() + dt.timedelta(hours=1)
    status, window = await api.call(
        "POST",
        MAINTENANCE,
        json={
            "title": "Upgrade",
            "starts_at": _iso(starts),
            "ends_at": _iso(starts + dt.timedelta(hours=1)),
        },
    )
    assert status == 201, window
    status, page = await api.call("POST", PAGES, json={"slug": "ops", "title": "Ops"})
    assert status == 201, page
    status, component = await api.call("POST", f"{PAGES}/ops/components", json={"target_id": "web"})
    assert status == 201, component
    return {
        "incident": f"{INCIDENTS}/{incident}",
        "window": f"{MAINTENANCE}/{window['id']}",
        "page": f"{PAGES}/ops",
        "component": f"{PAGES}/ops/components/web",
    }


def _targets(paths: dict[str, str], api: Any) -> list[tuple[str, str, dict[str, Any], str, bool]]:
    """(method, path, the rest of a valid body, the text field, long-form?) for every
    field the API stores as text."""
    starts = api.clock.now() + dt.timedelta(days=2)
    times = {"starts_at": _iso(starts), "ends_at": _iso(starts + dt.timedelta(hours=1))}
    return [
        ("PATCH", paths["incident"], {}, "public_title", False),
        ("PATCH", paths["incident"], {}, "public_description", True),
        ("POST", paths["incident"] + "/updates", {"phase": "identified"}, "message", True),
        ("POST", MAINTENANCE, {"title": "Upgrade", **times}, "title", False),
        ("POST", MAINTENANCE, {"title": "Upgrade", **times}, "description", True),
        ("PATCH", paths["window"], {}, "title", False),
        ("PATCH", paths["window"], {}, "description", True),
        ("POST", PAGES, {"slug": "new"}, "title", False),
        ("PATCH", paths["page"], {}, "title", False),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db"}, "public_name", False),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db"}, "public_group", False),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db"}, "public_description", True),
        ("PATCH", paths["component"], {}, "public_name", False),
        ("PATCH", paths["component"], {}, "public_group", False),
        ("PATCH", paths["component"], {}, "public_description", True),
    ]


async def test_control_and_bidi_characters_are_refused_naming_the_field(api_factory) -> None:
    async with api_factory() as api:
        paths = await _setup(api)
        for method, path, rest, field, long_form in _targets(paths, api):
            hostile = dict(HOSTILE)
            if not long_form:
                hostile["newline"] = "Web\nserver"
                hostile["tab"] = "Web\tserver"
            for what, text in hostile.items():
                status, body = await api.call(method, path, json={**rest, field: text})
                where = (method, path, field, what)
                assert status == 422, (where, body)
                error = body["error"]
                assert error["code"] == "INVALID_CHARACTER", (where, error)
                assert error["field"] == field, (where, error)
                assert error["message"].startswith(f"{field}: must not contain "), (where, error)
                assert re.search(r"\(U\+[0-9A-F]{4,6}, character \d+\)$", error["message"])


async def test_long_form_text_keeps_newlines_and_tabs(api_factory) -> None:
    async with api_factory() as api:
        paths = await _setup(api)
        for method, path, rest, field, long_form in _targets(paths, api):
            if not long_form:
                continue
            status, body = await api.call(method, path, json={**rest, field: LONG_FORM_OK})
            assert status in (200, 201), (method, path, field, body)
            if field != "message":  # a message is trimmed, like a title
                assert body[field] == LONG_FORM_OK, (method, path, field)
        # Titles keep what right-to-left text and emoji need.
        title = "\u05e9\u05dc\u05d5\u05dd \u200fok\u200e \U0001f468\u200d\U0001f4bb"
        status, body = await api.call("PATCH", paths["incident"], json={"public_title": title})
        assert status == 200 and body["public_title"] == title


async def test_the_text_reaches_the_page_only_when_valid(api_factory) -> None:
    async with api_factory() as api:
        paths = await _setup(api)
        await api.call("PATCH", paths["incident"], json={"public_title": "Web \u202eipa"})
        html = await (await api.client.get("/status/pages/ops")).get_data(as_text=True)
        assert "\u202e" not in html


# -- point 10: one message shape --------------------------------------------------


def _bad_requests(paths: dict[str, str], api: Any) -> list[tuple[str, str, Any]]:
    starts = api.clock.now() + dt.timedelta(days=2)
    times = {"starts_at": _iso(starts), "ends_at": _iso(starts + dt.timedelta(hours=1))}
    backwards = {"starts_at": times["ends_at"], "ends_at": times["starts_at"]}
    return [
        # incidents
        ("PATCH", paths["incident"], {"public_title": " "}),
        ("PATCH", paths["incident"], {"public_title": "t" * 201}),
        ("PATCH", paths["incident"], {"public_description": "d" * 5001}),
        ("PATCH", paths["incident"], {"severity": "urgent"}),
        ("PATCH", paths["incident"], {"title": "x"}),
        ("POST", paths["incident"] + "/updates", {"phase": "later", "message": "m"}),
        ("POST", paths["incident"] + "/updates", {"phase": "identified", "message": ""}),
        ("POST", paths["incident"] + "/updates", {"phase": "identified", "message": "m" * 2001}),
        ("POST", paths["incident"] + "/updates", {"phase": "identified"}),
        ("GET", f"{INCIDENTS}?cursor=nope", None),
        ("GET", f"{INCIDENTS}?limit=0", None),
        ("GET", f"{INCIDENTS}?since=yesterday", None),
        ("GET", f"{INCIDENTS}?colour=red", None),
        ("GET", f"{INCIDENTS}?limit=1&limit=2", None),
        # maintenance
        ("POST", MAINTENANCE, {"title": "", **times}),
        ("POST", MAINTENANCE, {"title": "t" * 201, **times}),
        ("POST", MAINTENANCE, {"title": "t", "description": "d" * 5001, **times}),
        ("POST", MAINTENANCE, {"title": "t", "severity": "loud", **times}),
        ("POST", MAINTENANCE, {"title": "t", **backwards}),
        ("POST", MAINTENANCE, {"title": "t", "component_ids": ["nope"], **times}),
        ("POST", MAINTENANCE, {"title": "t", "starts_at": "2030-01-05T03:00:00"}),
        ("PATCH", paths["window"], {"title": "  "}),
        ("GET", f"{MAINTENANCE}?status=later", None),
        # status pages
        ("POST", PAGES, {"slug": "Bad_Slug", "title": "t"}),
        ("POST", PAGES, {"slug": "ok", "title": " "}),
        ("POST", PAGES, {"slug": "ok", "title": "t" * 201}),
        ("POST", PAGES, {"slug": "ok", "title": "t", "hostname": "not a host"}),
        ("POST", PAGES, {"slug": "ops", "title": "Again"}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "nope"}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db", "public_name": " "}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db", "public_name": "n" * 201}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db", "public_group": ""}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db", "public_group": "g" * 201}),
        ("POST", f"{PAGES}/ops/components", {"target_id": "db", "public_description": "d" * 5001}),
        ("PATCH", paths["component"], {"public_name": ""}),
        ("PATCH", paths["component"], {"sort_order": "1"}),
        ("POST", f"{PAGES}/ops/components/reorder", {"target_ids": ["db"]}),
        ("POST", f"{PAGES}/ops/components/reorder", {"target_ids": ["web", "web"]}),
        ("POST", f"{PAGES}/ops/components/reorder", {"target_ids": []}),
    ]


async def test_every_message_names_its_field_once(api_factory) -> None:
    async with api_factory() as api:
        paths = await _setup(api)
        await api.call(
            "POST", PAGES, json={"slug": "two", "title": "Two", "hostname": "a.example.com"}
        )
        requests = [
            *_bad_requests(paths, api),
            ("PATCH", paths["page"], {"hostname": "a.example.com"}),
        ]
        for method, path, body in requests:
            status, answer = await api.call(method, path, json=body)
            assert 400 <= status < 500, (method, path, body, answer)
            error = answer["error"]
            field = error.get("field")
            assert field, (method, path, body, error)
            prefix = f"{field}: "
            assert error["message"].startswith(prefix), (method, path, body, error)
            rest = error["message"][len(prefix) :]
            name = re.sub(r"\[\d+\]$", "", field).rsplit(".", 1)[-1]
            assert not re.search(rf"\b{re.escape(name)}\b", rest), (method, path, body, error)
