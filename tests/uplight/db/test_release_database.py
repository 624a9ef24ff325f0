"""A database written by release 0.1.0 opens with today's code: the domains' migrations,
assembled in ``uplight.schema``, keep the names that release recorded, so none re-runs,
the ones since apply once, and every row reads back. ``data/make_release_db.py`` made
the file with that release."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from uplight.auth.tokens import list_tokens, verify_token
from uplight.db.sql import to_millis
from uplight.incidents.store import get_incident, incident_updates
from uplight.maintenance.store import get_window
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.rollups_store import hourly_rollups
from uplight.monitoring.store import StoredResult, daily_rollups, latest_results, recent_results
from uplight.notify.store import list_rows
from uplight.pages.store import list_pages
from uplight.schema import MIGRATIONS, build_store

RELEASE_DB = Path(__file__).with_name("data") / "release-0.1.0.sqlite"
AT = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)  # as in make_release_db.py
SINCE = [
    "m007_packed_results",
    "m008_manual_incidents",
    "m009_monitor_states",
    "m010_push_pings",
    "m011_console_sessions",
    "m012_probes",
]
HISTORY = [
    "m001_results_and_rollups",
    "m002_tokens",
    "m003_incidents",
    "m004_maintenance",
    "m005_status_pages",
    "m006_notifications",
]


def recorded_migrations(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT name, applied_at FROM migrations ORDER BY rowid").fetchall()


def test_the_schema_replays_the_release_history_in_order() -> None:
    # Names are what a database records: a rename would re-run a migration on it.
    assert [m.__name__ for m in MIGRATIONS][: len(HISTORY)] == HISTORY
    numbers = [m.__name__.split("_")[0] for m in MIGRATIONS]
    assert numbers == sorted(set(numbers)), "each migration takes the next unused number"


async def test_a_release_database_opens_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "uplight.db"
    shutil.copyfile(RELEASE_DB, path)
    recorded = recorded_migrations(path)
    assert [name for name, _ in recorded] == HISTORY

    old_rows = old_results(path)
    old_rollups = raw(path, "SELECT * FROM daily_rollups ORDER BY monitor_id, day")
    assert len(old_rows) == 2

    async with build_store(path, flush_interval=60) as store:
        # m007 packed the raw rows: they read back as the release wrote them.
        assert [as_old_row(r) for r in reversed(await recent_results(store, "web"))] == old_rows
        assert raw(path, "SELECT * FROM daily_rollups ORDER BY monitor_id, day") == old_rollups
        (hour,) = (await hourly_rollups(store, ["web"], AT))["web"]
        assert (hour.starts_at, hour.checks_total, hour.up_count, hour.down_count) == (AT, 2, 1, 1)
        assert (hour.latency_count, hour.latency_sum_ms, hour.latency_max_ms) == (1, 125.0, 125.0)

        latest = await latest_results(store, ["web"])
        assert latest["web"].checked_at == AT + dt.timedelta(minutes=1)
        assert latest["web"].result == CheckResult(
            CheckStatus.DOWN, None, "connection refused", {"phase": "connect"}
        )
        (rollup,) = (await daily_rollups(store, ["web"], AT.date()))["web"]
        assert (rollup.checks_total, rollup.up_count, rollup.down_count) == (2, 1, 1)
        assert rollup.latency_max_ms == 125.0

        assert [t.name for t in await list_tokens(store)] == ["release"]
        assert await verify_token(store, "upl_release-fixture-token") == "release"

        incident = await get_incident(store, 1)
        assert incident is not None
        assert (incident.monitor_id, incident.monitor_name, incident.severity) == (
            "web",
            "Website",
            "major",
        )
        # m008: an incident from before manual incidents is automatic.
        assert (incident.kind, incident.component_ids, incident.page) == ("automatic", (), None)
        (update,) = await incident_updates(store, 1)
        assert (update.phase, update.message, update.created_by) == (
            "identified",
            "The upstream host is down.",
            "release",
        )

        window = await get_window(store, 1)
        assert window is not None
        assert (window.title, window.severity, window.component_ids) == (
            "Router firmware",
            "warning",
            ("web",),
        )
        assert window.starts_at == AT + dt.timedelta(days=1)

        (page,) = await list_pages(store)
        assert (page.slug, page.title, page.default) == ("home", "Home services", True)
        (component,) = page.components
        assert (component.monitor_id, component.public_name) == ("web", "Website")
        assert component.public_id.startswith("c_")

        (row,) = await list_rows(store)
        assert (row.channel, row.event, row.status, row.incident_id) == (
            "ops",
            "incident_opened",
            "pending",
            1,
        )
        assert row.message.title == "Website is down"

        # And it takes new results, rollups included.
        later = AT + dt.timedelta(minutes=2)
        store.add_result(ResultRecord("web", later, CheckResult(CheckStatus.UP, 0.5, "200 OK")))
        await store.flush()
        assert [r.checked_at for r in await recent_results(store, "web")] == [
            later,
            AT + dt.timedelta(minutes=1),
            AT,
        ]
        (rollup,) = (await daily_rollups(store, ["web"], AT.date()))["web"]
        assert (rollup.checks_total, rollup.up_count) == (3, 2)

    # The release's migrations did not run again (the same names, applied at the same
    # times); the ones since ran once each.
    after = recorded_migrations(path)
    assert after[: len(recorded)] == recorded
    assert [name for name, _ in after[len(recorded) :]] == SINCE
    tables = {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "results" not in tables
    async with build_store(path, flush_interval=60):
        pass
    assert recorded_migrations(path) == after


def raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


OldRow = tuple[str, int, str, float | None, str, Any, str | None, int]


def old_results(path: Path) -> list[OldRow]:
    """The raw rows as release 0.1.0 stored them (its ``results`` table), oldest first."""
    rows = raw(
        path,
        "SELECT monitor_id, checked_at, status, latency_ms, message, details, error_reason,"
        " in_maintenance FROM results ORDER BY monitor_id, checked_at, id",
    )
    return [(*row[:5], json.loads(row[5]), *row[6:]) for row in rows]


def as_old_row(stored: StoredResult) -> OldRow:
    result = stored.result
    return (
        stored.monitor_id,
        to_millis(stored.checked_at),
        result.status.value,
        None if result.latency is None else round(result.latency * 1000, 3),
        result.message,
        result.details,
        stored.error_reason,
        int(stored.in_maintenance),
    )
