"""/api/v1/maintenance: validation codes, the clock-driven lifecycle, lists, the effect."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from typing import Any

import pytest
from stored import stored_results

import uplight.maintenance.service
from uplight.maintenance.store import get_window

PATH = "/api/v1/maintenance"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def window(api: Any, *, start: float = 1.0, hours: float = 1.0, **extra: Any) -> dict[str, Any]:
    """A body starting ``start`` hours from the fake clock's now, lasting ``hours``."""
    starts = api.clock.now() + dt.timedelta(hours=start)
    return {
        "title": "Database upgrade",
        "starts_at": iso(starts),
        "ends_at": iso(starts + dt.timedelta(hours=hours)),
        **extra,
    }


async def schedule(api: Any, **kwargs: Any) -> dict[str, Any]:
    status, body = await api.call("POST", PATH, json=window(api, **kwargs))
    assert status == 201, body
    return body


def error(body: Any) -> tuple[str, str | None]:
    return body["error"]["code"], body["error"].get("field")


async def test_schedule_and_read_back(api_factory) -> None:
    async with api_factory() as api:
        body = window(api, component_ids=["web", "db"], severity="warning", description="v16")
        status, created = await api.call("POST", PATH, json=body)
        assert status == 201, created
        assert created == {
            "id": created["id"],
            "title": "Database upgrade",
            "description": "v16",
            "severity": "warning",
            "component_ids": ["web", "db"],
            "starts_at": body["starts_at"],
            "ends_at": body["ends_at"],
            "status": "scheduled",
            "completed_at": None,
            "cancelled_at": None,
            "created_at": iso(api.clock.now()),
            "updated_at": iso(api.clock.now()),
            "created_by": "tester",
            "source": "api",
        }
        status, fetched = await api.call("GET", f"{PATH}/{created['id']}")
        assert status == 200 and fetched == created


async def test_defaults_offsets_and_millisecond_times(api_factory) -> None:
    async with api_factory() as api:
        status, created = await api.call(
            "POST",
            PATH,
            json={
                "title": "  Padded title  ",
                "starts_at": "2030-01-05T04:00:00.123+01:00",
                "ends_at": "2030-01-05T05:30:00.5Z",
            },
        )
        assert status == 201, created
        assert created["title"] == "Padded title"
        assert created["severity"] == "info" and created["description"] is None
        assert created["component_ids"] == []
        assert created["starts_at"] == "2030-01-05T03:00:00.123000Z"
        assert created["ends_at"] == "2030-01-05T05:30:00.500000Z"


async def test_duplicate_components_are_listed_once(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, component_ids=["db", "web", "db"])
        assert created["component_ids"] == ["db", "web"]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"title": "   "}, "EMPTY_TITLE", "title"),
        ({"title": ""}, "EMPTY_TITLE", "title"),
        ({"title": "x" * 201}, "TITLE_TOO_LONG", "title"),
        ({"description": "x" * 5001}, "DESCRIPTION_TOO_LONG", "description"),
        ({"severity": "major"}, "INVALID_SEVERITY", "severity"),
        ({"component_ids": ["web", "nope"]}, "INVALID_COMPONENT_ID", "component_ids[1]"),
        ({"ends_at": "START"}, "INVALID_TIME_RANGE", "ends_at"),
        ({"ends_at": "BEFORE"}, "INVALID_TIME_RANGE", "ends_at"),
        ({"ends_at": "TOO_LONG"}, "INVALID_DURATION", "ends_at"),
        ({"starts_at": "2030-01-05T03:00:00"}, "VALIDATION_ERROR", "starts_at"),
        ({"starts_at": "tomorrow"}, "VALIDATION_ERROR", "starts_at"),
        ({"starts_at": 1893812400}, "VALIDATION_ERROR", "starts_at"),
        ({"title": None}, "VALIDATION_ERROR", "title"),
        ({"status": "active"}, "UNKNOWN_FIELD", "status"),
        ({"component_ids": "web"}, "VALIDATION_ERROR", "component_ids"),
    ],
)
async def test_create_validation(api_factory, change: dict[str, Any], code: str, field) -> None:
    async with api_factory() as api:
        body = window(api)
        starts = dt.datetime.fromisoformat(body["starts_at"])
        relative = {
            "START": starts,
            "BEFORE": starts - dt.timedelta(seconds=1),
            "TOO_LONG": starts + dt.timedelta(days=30, milliseconds=1),
        }
        for key, value in change.items():
            body[key] = (
                iso(relative[value]) if isinstance(value, str) and value in relative else value
            )
        status, answer = await api.call("POST", PATH, json=body)
        assert status == 422, answer
        assert error(answer) == (code, field)
        if code == "INVALID_COMPONENT_ID":
            assert "'nope'" in answer["error"]["message"]
        if change == {"starts_at": "2030-01-05T03:00:00"}:
            assert "offset" in answer["error"]["message"]  # naive times are refused
        _, listed = await api.call("GET", PATH)
        assert listed["items"] == []  # nothing was written


async def test_limits_themselves_are_accepted(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(
            api, hours=24 * 30, title="x" * 200, description="y" * 5000, severity="critical"
        )
        assert created["severity"] == "critical"


async def test_missing_and_malformed_bodies(api_factory) -> None:
    async with api_factory() as api:
        status, body = await api.call("POST", PATH, json={"title": "x"})
        assert status == 422 and body["error"]["code"] == "MISSING_FIELD"
        response = await api.client.post(
            PATH, data="{not json", headers={**api.auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert (await response.get_json())["error"]["code"] == "INVALID_JSON"
        response = await api.client.post(PATH, data="title=x", headers=api.auth)
        assert response.status_code == 415


async def test_lifecycle_follows_the_clock(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=1, hours=2, component_ids=["web"])
        path = f"{PATH}/{created['id']}"
        maintenance = api.runtime.maintenance
        assert not maintenance.is_active("web")

        api.clock.advance(hours=1)
        # Between ticks the flag already follows the clock, and so does every answer.
        assert maintenance.is_active("web") and not maintenance.is_active("db")
        status, body = await api.call("GET", path)
        assert status == 200 and body["status"] == "active"
        assert body["completed_at"] is None

        api.clock.advance(hours=2)
        assert not maintenance.is_active("web")
        status, body = await api.call("GET", path)
        assert body["status"] == "completed"
        assert body["completed_at"] == created["ends_at"]  # it ended as planned

        status, body = await api.call("PATCH", path, json={"title": "Later"})
        assert status == 422 and error(body) == ("MAINTENANCE_COMPLETED", None)


async def test_tick_moves_stored_statuses_without_a_request(api_factory) -> None:
    async with api_factory() as api:
        first = await schedule(api, start=1, hours=1)
        second = await schedule(api, start=1.5, hours=1)
        store, maintenance = api.runtime.store, api.runtime.maintenance
        await maintenance.stop()  # only the ticks below move anything
        api.clock.advance(hours=1, minutes=45)
        assert (await get_window(store, first["id"])).status == "scheduled"  # not ticked yet
        await maintenance.tick()
        assert (await get_window(store, first["id"])).status == "active"
        assert (await get_window(store, second["id"])).status == "active"
        api.clock.advance(minutes=30)
        await maintenance.tick()
        done = await get_window(store, first["id"])
        assert done.status == "completed"
        assert done.completed_at == dt.datetime.fromisoformat(first["ends_at"])
        assert (await get_window(store, second["id"])).status == "active"
        assert maintenance.seconds_to_next_boundary() <= 5.0


async def test_the_background_task_applies_transitions(api_factory, monkeypatch) -> None:
    monkeypatch.setattr(uplight.maintenance.service, "MAX_TICK_SECONDS", 0.05)
    async with api_factory() as api:
        created = await schedule(api, start=1, hours=1)
        api.clock.advance(hours=1)
        deadline = time.monotonic() + 5
        while (await get_window(api.runtime.store, created["id"])).status != "active":
            assert time.monotonic() < deadline, "the background task did not tick"
            await asyncio.sleep(0.02)


async def test_a_start_in_the_past_is_active_at_once(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=-1, hours=2, component_ids=["db"])
        assert created["status"] == "active"
        assert api.runtime.maintenance.is_active("db")
        entirely_past = await schedule(api, start=-3, hours=1)
        assert entirely_past["status"] == "completed"
        assert entirely_past["completed_at"] == entirely_past["ends_at"]


async def test_cancel_keeps_the_row(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=-0.5, hours=1, component_ids=["web"])
        path = f"{PATH}/{created['id']}"
        assert api.runtime.maintenance.is_active("web")
        api.clock.advance(minutes=5)
        status, cancelled = await api.call("DELETE", path)
        assert status == 200, cancelled
        assert cancelled["status"] == "cancelled"
        assert cancelled["cancelled_at"] == iso(api.clock.now())
        assert cancelled["updated_at"] == iso(api.clock.now())
        assert not api.runtime.maintenance.is_active("web")
        status, again = await api.call("DELETE", path)
        assert status == 200 and again == cancelled  # idempotent
        status, body = await api.call("GET", path)
        assert status == 200 and body["status"] == "cancelled"  # kept for audit
        api.clock.advance(hours=2)
        status, body = await api.call("GET", path)
        assert body["status"] == "cancelled"  # the clock does not revive it
        status, body = await api.call("POST", f"{path}/complete")
        assert status == 422 and error(body)[0] == "MAINTENANCE_CANCELLED"


async def test_a_cancelled_window_takes_a_new_title_and_description_only(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=2, component_ids=["web"], severity="warning")
        path = f"{PATH}/{created['id']}"
        status, cancelled = await api.call("DELETE", path)
        assert status == 200, cancelled
        api.clock.advance(minutes=5)

        # The audit recipe: say on the record why it did not happen.
        status, body = await api.call(
            "PATCH",
            path,
            json={"title": "[cancelled] PG cutover", "description": "Moved to next week."},
        )
        assert status == 200, body
        assert body["title"] == "[cancelled] PG cutover"
        assert body["description"] == "Moved to next week."
        assert body["status"] == "cancelled"
        assert body["cancelled_at"] == cancelled["cancelled_at"]  # the record stays
        assert body["updated_at"] == iso(api.clock.now())
        assert (body["starts_at"], body["ends_at"]) == (created["starts_at"], created["ends_at"])
        assert not api.runtime.maintenance.is_active("web")

        # Anything else answers its own code, naming the field; nothing is written.
        later = window(api, start=3)
        for change in (
            {"severity": "critical"},
            {"component_ids": ["db"]},
            {"starts_at": later["starts_at"]},
            {"ends_at": later["ends_at"]},
            {"title": "x", "severity": "info"},
        ):
            status, answer = await api.call("PATCH", path, json=change)
            field = next(k for k in change if k != "title")
            assert status == 422 and error(answer) == ("MAINTENANCE_CANCELLED", field), answer
        status, unchanged = await api.call("GET", path)
        assert unchanged == body

        # Echoing the whole window back with a new title is a title change.
        echoed = {k: body[k] for k in ("severity", "component_ids", "starts_at", "ends_at")}
        status, again = await api.call("PATCH", path, json={**echoed, "title": "[cancelled] v2"})
        assert status == 200 and again["title"] == "[cancelled] v2", again


async def test_complete_now(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=-1, hours=2, component_ids=["web"])
        path = f"{PATH}/{created['id']}"
        api.clock.advance(minutes=10)
        status, done = await api.call("POST", f"{path}/complete")
        assert status == 200, done
        assert done["status"] == "completed"
        assert done["completed_at"] == iso(api.clock.now())
        assert done["ends_at"] == created["ends_at"]  # the plan stays on record
        assert not api.runtime.maintenance.is_active("web")
        status, again = await api.call("POST", f"{path}/complete")
        assert status == 200 and again == done
        status, body = await api.call("DELETE", path)
        assert status == 422 and error(body)[0] == "MAINTENANCE_COMPLETED"
        status, body = await api.call("PATCH", path, json={"description": None})
        assert status == 422 and error(body)[0] == "MAINTENANCE_COMPLETED"

        upcoming = await schedule(api, start=1)
        status, body = await api.call("POST", f"{PATH}/{upcoming['id']}/complete")
        assert status == 422 and error(body)[0] == "MAINTENANCE_NOT_STARTED"


async def test_purge_deletes_for_good(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, component_ids=["web", "db"])
        path = f"{PATH}/{created['id']}"
        response = await api.client.post(f"{path}/purge", headers=api.auth)
        assert response.status_code == 204 and await response.get_data() == b""
        for method, target in [("GET", path), ("POST", f"{path}/purge"), ("DELETE", path)]:
            status, body = await api.call(method, target)
            assert status == 404 and body["error"]["code"] == "NOT_FOUND"
        await api.runtime.store.flush()
        db = sqlite3.connect(api.runtime.store.path)
        assert db.execute("SELECT count(*) FROM maintenance_components").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)


async def test_unknown_ids_are_404(api_factory) -> None:
    async with api_factory() as api:
        for method, path, body in [
            ("GET", f"{PATH}/999", None),
            ("PATCH", f"{PATH}/999", {"title": "x"}),
            ("DELETE", f"{PATH}/999", None),
            ("POST", f"{PATH}/999/complete", None),
            ("POST", f"{PATH}/999/purge", None),
            ("GET", f"{PATH}/abc", None),
        ]:
            status, answer = await api.call(method, path, json=body)
            assert status == 404 and answer["error"]["code"] == "NOT_FOUND", (method, path)


async def test_patch_three_states_and_whole_validation(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, description="first", component_ids=["web"])
        path = f"{PATH}/{created['id']}"
        api.clock.advance(minutes=1)

        status, body = await api.call("PATCH", path, json={"title": "Renamed"})
        assert status == 200, body
        assert body["title"] == "Renamed" and body["description"] == "first"  # omitted stays
        assert body["updated_at"] == iso(api.clock.now())
        assert body["created_at"] == created["created_at"]
        status, body = await api.call("PATCH", path, json={"description": "second"})
        assert body["description"] == "second" and body["title"] == "Renamed"
        status, body = await api.call("PATCH", path, json={"description": None})
        assert status == 200 and body["description"] is None  # null clears
        status, body = await api.call("PATCH", path, json={})
        assert status == 200 and body["title"] == "Renamed"
        status, body = await api.call(
            "PATCH", path, json={"component_ids": ["db"], "severity": "critical"}
        )
        assert body["component_ids"] == ["db"] and body["severity"] == "critical"

        # Validated as a whole: one bound moved past the stored other one.
        starts = dt.datetime.fromisoformat(created["starts_at"])
        status, body = await api.call("PATCH", path, json={"ends_at": iso(starts)})
        assert status == 422 and error(body) == ("INVALID_TIME_RANGE", "ends_at")
        status, body = await api.call(
            "PATCH", path, json={"starts_at": iso(starts - dt.timedelta(days=31))}
        )
        assert status == 422 and error(body) == ("INVALID_DURATION", "ends_at")
        for change, code in [
            ({"title": " "}, "EMPTY_TITLE"),
            ({"title": "t" * 201}, "TITLE_TOO_LONG"),
            ({"description": "d" * 5001}, "DESCRIPTION_TOO_LONG"),
            ({"severity": "minor"}, "INVALID_SEVERITY"),
            ({"component_ids": ["gone"]}, "INVALID_COMPONENT_ID"),
            ({"title": None}, "VALIDATION_ERROR"),
            ({"starts_at": None}, "VALIDATION_ERROR"),
            ({"status": "completed"}, "UNKNOWN_FIELD"),
        ]:
            status, body = await api.call("PATCH", path, json=change)
            assert status == 422 and body["error"]["code"] == code, (change, body)
        status, body = await api.call("GET", path)
        assert body["title"] == "Renamed" and body["component_ids"] == ["db"]  # untouched


async def test_patch_moves_a_window_between_statuses(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=1, hours=1, component_ids=["web"])
        path = f"{PATH}/{created['id']}"
        now = api.clock.now()
        status, body = await api.call("PATCH", path, json={"starts_at": iso(now)})
        assert body["status"] == "active" and api.runtime.maintenance.is_active("web")
        status, body = await api.call(
            "PATCH", path, json={"starts_at": iso(now + dt.timedelta(minutes=30))}
        )
        assert body["status"] == "scheduled" and not api.runtime.maintenance.is_active("web")
        status, body = await api.call(
            "PATCH",
            path,
            json={
                "starts_at": iso(now - dt.timedelta(hours=2)),
                "ends_at": iso(now - dt.timedelta(hours=1)),
            },
        )
        assert status == 200 and body["status"] == "completed"
        assert body["completed_at"] == body["ends_at"]


async def test_patch_after_ends_at_passed_is_refused_even_before_a_tick(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=-1, hours=2)
        api.clock.advance(hours=1, seconds=1)
        status, body = await api.call("PATCH", f"{PATH}/{created['id']}", json={"title": "x"})
        assert status == 422 and error(body)[0] == "MAINTENANCE_COMPLETED"


async def test_list_filters_order_and_limit(api_factory) -> None:
    async with api_factory() as api:
        past = await schedule(api, start=-5, hours=1)  # completed
        running = await schedule(api, start=-1, hours=2)  # active
        later = await schedule(api, start=24)
        soon = await schedule(api, start=2)
        dropped = await schedule(api, start=3)
        await api.call("DELETE", f"{PATH}/{dropped['id']}")

        async def ids(query: str = "") -> list[int]:
            status, body = await api.call("GET", PATH + query)
            assert status == 200, body
            return [w["id"] for w in body["items"]]

        newest_first = [later["id"], dropped["id"], soon["id"], running["id"], past["id"]]
        assert await ids() == newest_first
        assert await ids("?limit=2") == newest_first[:2]
        assert await ids("?status=scheduled") == [later["id"], soon["id"]]
        assert await ids("?status=upcoming") == [soon["id"], later["id"]]  # soonest first
        assert await ids("?status=active") == [running["id"]]
        assert await ids("?status=completed") == [past["id"]]
        assert await ids("?status=cancelled") == [dropped["id"]]

        api.clock.advance(hours=2, minutes=30)  # soon starts, running ends
        assert await ids("?status=upcoming") == [later["id"]]
        assert await ids("?status=active") == [soon["id"]]
        assert await ids("?status=completed") == [running["id"], past["id"]]

        for bad in ("?limit=0", "?limit=201", "?limit=x", "?status=bogus"):
            status, _ = await api.call("GET", PATH + bad)
            assert status == 422, bad


async def test_default_limit_is_50(api_factory) -> None:
    async with api_factory() as api:
        for hour in range(55):
            await schedule(api, start=hour + 1)
        _, body = await api.call("GET", PATH)
        assert len(body["items"]) == 50
        _, body = await api.call("GET", PATH + "?limit=200")
        assert len(body["items"]) == 55


async def test_upcoming_with_a_limit_is_the_next_windows(api_factory) -> None:
    """Issue 10, point 14: ``?status=upcoming&limit=10`` means the next ten."""
    async with api_factory() as api:
        created = [await schedule(api, start=hours) for hours in (30, 2, 500, 9, 1, 4)]
        by_start = [w["id"] for w in sorted(created, key=lambda w: w["starts_at"])]
        status, body = await api.call("GET", PATH + "?status=upcoming&limit=3")
        assert status == 200, body
        assert [w["id"] for w in body["items"]] == by_start[:3]
        status, rest = await api.call(
            "GET", PATH + f"?status=upcoming&limit=3&cursor={body['next_cursor']}"
        )
        assert [w["id"] for w in rest["items"]] == by_start[3:]
        assert rest["next_cursor"] is None


async def pages(api: Any, query: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of the list, following next_cursor."""
    found, cursor = [], None
    while True:
        extra = f"&cursor={cursor}" if cursor else ""
        status, body = await api.call("GET", f"{PATH}?limit={limit}{query}{extra}")
        assert status == 200, body
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
        assert len(found) < 100, "the cursor does not advance"


async def test_cursor_paging_lists_every_window_once(api_factory) -> None:
    """Issue 10, point 14: the list pages like the incident list (limit, cursor,
    items, next_cursor), so no window is out of reach."""
    async with api_factory() as api:
        for hour in range(120):
            await schedule(api, start=(hour % 40) + 1)  # three windows share each start
        status, old = await api.call(
            "POST",
            PATH,
            json={
                "title": "Before 1970",
                "starts_at": "1960-01-01T00:00:00Z",
                "ends_at": "1960-01-01T01:00:00Z",
            },
        )
        assert status == 201, old

        newest = await pages(api, "", 50)
        assert [len(p) for p in newest] == [50, 50, 21]
        listed = [w for page in newest for w in page]
        assert len({w["id"] for w in listed}) == 121
        keys = [(w["starts_at"], w["id"]) for w in listed]
        assert keys == sorted(keys, reverse=True)
        assert listed[-1]["id"] == old["id"]  # a start before 1970 pages too

        upcoming = [w for page in await pages(api, "&status=upcoming", 7) for w in page]
        keys = [(w["starts_at"], w["id"]) for w in upcoming]
        assert len(keys) == 120 and keys == sorted(keys)

        # Exactly a page: the last page is full and says so.
        status, body = await api.call("GET", f"{PATH}?limit=121")
        assert len(body["items"]) == 121 and body["next_cursor"] is None

        for bad in ("x", "1.", "1.2.3", "1.-2", " 1.2"):
            status, body = await api.call("GET", PATH, query_string={"cursor": bad})
            assert status == 422 and error(body) == ("INVALID_CURSOR", "cursor"), bad
        status, body = await api.call("GET", f"{PATH}?cursor=-9999999999999999999.1")
        assert status == 200 and body == {"items": [], "next_cursor": None}


async def test_far_future_plans_do_not_push_history_off_the_page(api_factory) -> None:
    """Issue 10, point 14: the page's recent list (50) keeps what happened."""
    async with api_factory() as api:
        done = await schedule(api, start=-3, hours=1, component_ids=["web"], title="Done")
        running = await schedule(api, start=-1, hours=2, component_ids=["web"], title="Now")
        for week in range(60):
            await schedule(api, start=24 * 7 * (week + 1), component_ids=["web"])
        _, body = await api.call("GET", PATH + "?status=upcoming&limit=1")
        first_planned = body["items"][0]

        response = await api.client.get("/api/public/v1/status.json")
        recent = (await response.get_json())["maintenance"]["recent"]
        ids = [w["id"] for w in recent]
        assert len(recent) == 50
        assert done["id"] in ids and running["id"] in ids
        assert first_planned["id"] in ids  # the nearest plans fill what history leaves
        starts = [w["starts_at"] for w in recent]
        assert starts == sorted(starts, reverse=True)  # still newest first


async def test_every_route_needs_a_token(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api)
        path = f"{PATH}/{created['id']}"
        for method, target in [
            ("GET", PATH),
            ("POST", PATH),
            ("GET", path),
            ("PATCH", path),
            ("DELETE", path),
            ("POST", f"{path}/complete"),
            ("POST", f"{path}/purge"),
            ("GET", f"{PATH}/999"),
        ]:
            for headers in ({}, {"Authorization": "Bearer upl_wrong"}):
                response = await api.client.open(
                    target, method=method, json={"title": "x"}, headers=headers
                )
                assert response.status_code == 401, (method, target)
                body = await response.get_json()
                assert body["error"]["code"] == "UNAUTHORIZED"
        _, body = await api.call("GET", path)
        assert body == created  # nothing changed


async def test_results_during_a_window_are_flagged(api_factory) -> None:
    async with api_factory() as api:
        await schedule(api, start=-0.5, hours=1, component_ids=["web"])
        scheduler = api.runtime.scheduler
        flagged = await scheduler.run_once("web")  # port 9 refuses: a real failed check
        unflagged = await scheduler.run_once("db")
        assert flagged.result.status == "down" and flagged.in_maintenance
        assert unflagged.result.status == "down" and not unflagged.in_maintenance
        await api.runtime.store.flush()
        db = sqlite3.connect(api.runtime.store.path)
        results = {r.monitor_id: r.in_maintenance for r in stored_results(api.runtime.store.path)}
        assert results == {"web": True, "db": False}
        rollups = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT monitor_id, down_count, maintenance_count FROM daily_rollups"
            )
        }
        assert rollups == {"web": (1, 1), "db": (1, 0)}

        api.clock.advance(hours=1)  # the window is over
        after = await scheduler.run_once("web")
        assert not after.in_maintenance


async def test_openapi_documents_the_routes(api_factory) -> None:
    async with api_factory() as api:
        response = await api.client.get("/api/openapi.json")
        document = await response.get_json()
        paths = document["paths"]
        assert set(paths[PATH]) == {"get", "post"}
        assert set(paths[PATH + "/{window_id}"]) == {"get", "patch", "delete"}
        assert "422" in paths[PATH + "/{window_id}"]["delete"]["responses"]
        assert "204" in paths[PATH + "/{window_id}/purge"]["post"]["responses"]
        assert "422" in paths[PATH + "/{window_id}/complete"]["post"]["responses"]
        for operation in (paths[PATH]["post"], paths[PATH + "/{window_id}"]["patch"]):
            assert {"401", "422"} <= set(operation["responses"])


async def test_config_windows_flag_results(api_factory) -> None:
    entry = """
[[maintenance]]
id = "always"
title = "Hourly"
components = ["web"]
duration = "1h"
cron = "0 * * * *"
"""
    async with api_factory(entry) as api:
        record = await api.runtime.scheduler.run_once("web")
        assert record.in_maintenance  # a window starts every hour and lasts an hour
        assert not (await api.runtime.scheduler.run_once("db")).in_maintenance
        status, body = await api.call("GET", "/api/v1/maintenance?status=active")
        assert status == 200 and [w["source"] for w in body["items"]] == ["config"]
        assert body["items"][0]["created_by"] == "config"


async def test_patch_ignores_stored_components_whose_monitor_left_the_config(
    api_factory,
) -> None:
    from uplight.maintenance.models import WindowFields
    from uplight.maintenance.store import insert_window

    async with api_factory() as api:
        now = api.clock.now()
        fields = WindowFields(
            title="Old work",
            description=None,
            severity="info",
            component_ids=("retired", "web"),  # "retired" was removed from the config
            starts_at=now + dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=2),
        )

        async def insert(db: Any) -> int | None:
            return await insert_window(db, fields, status="scheduled", now=now, created_by="x")

        window_id = await api.runtime.store.write(insert)
        path = f"{PATH}/{window_id}"
        status, body = await api.call("PATCH", path, json={"title": "Renamed"})
        assert status == 200, body
        assert body["title"] == "Renamed" and body["component_ids"] == ["retired", "web"]
        status, body = await api.call(
            "PATCH", path, json={"ends_at": iso(now + dt.timedelta(hours=3))}
        )
        assert status == 200, body
        # Sending component_ids still checks every one of them.
        status, body = await api.call("PATCH", path, json={"component_ids": ["retired"]})
        assert status == 422 and error(body) == ("INVALID_COMPONENT_ID", "component_ids[0]")
        status, body = await api.call("PATCH", path, json={"component_ids": ["web"]})
        assert status == 200 and body["component_ids"] == ["web"]


async def test_patch_ends_at_in_the_past_completes_an_active_window_now(api_factory) -> None:
    async with api_factory() as api:
        created = await schedule(api, start=-2, hours=4, component_ids=["web"])
        assert created["status"] == "active"
        path = f"{PATH}/{created['id']}"
        api.clock.advance(minutes=10)
        now = api.clock.now()
        status, body = await api.call(
            "PATCH", path, json={"ends_at": iso(now - dt.timedelta(hours=1))}
        )
        assert status == 200, body
        assert body["status"] == "completed"
        # Not retroactive: it ended now, not an hour ago.
        assert body["ends_at"] == iso(now) and body["completed_at"] == iso(now)
        assert not api.runtime.maintenance.is_active("web")

        # An end exactly now does the same.
        other = await schedule(api, start=-1, hours=2)
        status, body = await api.call("PATCH", f"{PATH}/{other['id']}", json={"ends_at": iso(now)})
        assert status == 200 and body["status"] == "completed"
        assert body["ends_at"] == body["completed_at"] == iso(now)

        # An end before the start is still refused, not clamped.
        third = await schedule(api, start=-1, hours=2)
        starts = dt.datetime.fromisoformat(third["starts_at"])
        status, body = await api.call(
            "PATCH", f"{PATH}/{third['id']}", json={"ends_at": iso(starts - dt.timedelta(hours=1))}
        )
        assert status == 422 and error(body) == ("INVALID_TIME_RANGE", "ends_at")
