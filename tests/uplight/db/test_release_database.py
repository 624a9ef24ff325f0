"""A database written by release 0.1.0 opens with today's code: the domains' migrations,
assembled in ``uplight.schema``, keep the names that release recorded, so none re-runs
and every row reads back. ``data/make_release_db.py`` made the file with that release."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

from uplight.auth.tokens import list_tokens, verify_token
from uplight.incidents.store import get_incident, incident_updates
from uplight.maintenance.store import get_window
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.store import daily_rollups, latest_results, recent_results
from uplight.notify.store import list_rows
from uplight.pages.store import list_pages
from uplight.schema import MIGRATIONS, build_store

RELEASE_DB = Path(__file__).with_name("data") / "release-0.1.0.sqlite"
AT = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)  # as in make_release_db.py
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

    async with build_store(path, flush_interval=60) as store:
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

    # No migration ran again: the same names, applied at the same times.
    assert recorded_migrations(path) == recorded
