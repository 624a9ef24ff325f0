"""`uplight db copy`: a SQLite database, written through the real services, moved into
the test PostgreSQL server (tests/postgres.py) and read back through the same
services; then refusals of bad input, each leaving the target as it was."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import shutil
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from uplight.auth.sessions import ConsoleSessions
from uplight.auth.tokens import create_token, list_tokens, verify_token
from uplight.cli import main
from uplight.cli.db import ProgressLine
from uplight.clock import FakeClock
from uplight.config import Config
from uplight.db.copy import CopyError, SourceOutdated, TargetNotEmpty, copy_database
from uplight.db.store import Store
from uplight.incidents import store as db_incidents
from uplight.incidents.service import IncidentService, ManualIncidentFields
from uplight.maintenance.models import WindowFields
from uplight.maintenance.service import MaintenanceService
from uplight.maintenance.store import list_windows
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring import push_store, state_store
from uplight.monitoring.rollups_store import daily_rollups
from uplight.monitoring.store import latest_statuses, recent_results
from uplight.notify import store as outbox
from uplight.notify.service import Notifications
from uplight.pages.provisioning import provision_pages
from uplight.pages.store import list_pages
from uplight.plugins import PluginRegistry
from uplight.probes import store as probes_store
from uplight.schema import MIGRATIONS, build_store

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
KNOWN = [migration.__name__ for migration in MIGRATIONS]
RELEASE_DB = Path(__file__).with_name("data") / "release-0.1.0.sqlite"

# Nothing is delivered or checked: the services write, the rows stay to be read.
CONFIG = """
[defaults]
notify = ["hook"]

[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"

[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:9/"

[[notifiers]]
id = "hook"
type = "webhook"
url = "http://127.0.0.1:9/"
send_updates = true

[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
public_name = "Website"
[[pages.components]]
monitor = "db"

[[maintenance]]
id = "backups"
title = "Weekly backups"
components = ["db"]
duration = "2h"
weekly = { days = ["sun"], at = "03:00" }
"""


@dataclasses.dataclass
class Services:
    store: Store
    clock: FakeClock
    incidents: IncidentService
    maintenance: MaintenanceService
    sessions: ConsoleSessions


def services(store: Store, config: Config, registry: PluginRegistry, clock: FakeClock) -> Services:
    notifications = Notifications(
        config, registry, store, clock=clock, in_maintenance=lambda _: False
    )
    incidents = IncidentService(
        store,
        clock=clock,
        on_narration=notifications.on_narration,
        on_update=notifications.on_update,
        on_manual=notifications.router.on_manual,
        monitor_ids=[m.id for m in config.monitors],
        page_monitors=lambda slug: frozenset({"web", "db"}) if slug == "main" else None,
    )
    return Services(
        store,
        clock,
        incidents,
        MaintenanceService(store, config, clock),
        ConsoleSessions(store, clock, idle=3600, max_age=86400),
    )


async def seed(path: Path, config: Config, registry: PluginRegistry) -> tuple[str, str]:
    """Every domain's rows, written as a server writes them; the token and the console
    session's secret."""
    clock = FakeClock(T0)
    async with build_store(path) as store:
        s = services(store, config, registry, clock)
        for minute in range(0, 180, 5):
            for monitor_id in ("web", "db"):
                status = CheckStatus.DOWN if monitor_id == "db" and minute > 150 else CheckStatus.UP
                store.add_result(
                    ResultRecord(
                        monitor_id,
                        T0 - dt.timedelta(minutes=minute),
                        CheckResult(status, 0.01 * minute, f"check {minute}", {"n": minute}),
                    )
                )
        await store.flush()
        await provision_pages(store, config, clock.now())
        await s.maintenance.start()  # materialises the weekly window
        await s.maintenance.stop()
        await s.maintenance.schedule(
            WindowFields(
                title="Disk swap",
                description="A disk is replaced",
                severity="info",
                component_ids=("web",),
                starts_at=T0 + dt.timedelta(days=1),
                ends_at=T0 + dt.timedelta(days=1, hours=1),
            ),
            created_by="admin",
        )
        token = await create_token(store, "admin")
        await create_token(store, "probe-eu", location="eu")
        session = await s.sessions.sign_in(token)
        assert session is not None

        async def automatic(db: aiosqlite.Connection) -> int:
            started = clock.now() - dt.timedelta(hours=1)
            incident_id = await db_incidents.insert_incident(
                db,
                monitor_id="db",
                monitor_name="Database",
                severity="major",
                started_at=started,
                at=started,
            )
            return incident_id

        incident_id: int = await store.write(automatic)
        await s.incidents.narrate(incident_id, {"public_title": "Database is down"})
        await s.incidents.add_update(
            incident_id, phase="identified", message="A disk", created_by="admin"
        )
        manual = await s.incidents.open_manual(
            ManualIncidentFields(
                public_title="Slow pages", component_ids=("web",), page="main", message="Looking"
            ),
            created_by="admin",
        )
        await s.incidents.resolve(manual.id, message="Fine again", created_by="admin")
        await state_store.save_statuses(
            store, [state_store.StatusRow("db", "major_outage", T0 - dt.timedelta(minutes=25))]
        )
        await state_store.save_operator_state(
            store, state_store.OperatorRow("web", "degraded", "by hand", T0, "admin")
        )
        await push_store.save(store, push_store.PingRow("web", T0, T0, None, None))
        await probes_store.insert_results(
            store,
            [probes_store.LocationResult("eu", "r1", "web", T0, "up", 0.2, "fine", None)],
            T0,
        )
    return token, session.secret


async def observe(location: Path | str, token: str, secret: str) -> dict[str, Any]:
    """What the services read back: the same from either database."""
    async with build_store(location) as store:
        clock = FakeClock(T0)
        sessions = ConsoleSessions(store, clock, idle=3600, max_age=86400)
        page = await IncidentService(store, clock=clock, monitor_ids=["web", "db"]).list_incidents()
        timelines = {
            i.id: await IncidentService(store, clock=clock, monitor_ids=[]).timeline(i.id)
            for i in page.items
        }
        return {
            "tokens": await list_tokens(store),
            "token_is": await verify_token(store, token),
            "session": await sessions.resume(secret),
            "incidents": page.items,
            "timelines": timelines,
            "windows": await list_windows(store, limit=100),
            "outbox": await outbox.list_rows(store),
            "pages": await list_pages(store),
            "meta": await store.fetchall("SELECT key, value FROM meta ORDER BY key"),
            "results": {m: await recent_results(store, m, limit=1000) for m in ("web", "db")},
            "latest": await latest_statuses(store, ["web", "db"]),
            "daily": await daily_rollups(store, ["web", "db"], (T0 - dt.timedelta(days=2)).date()),
            "states": await state_store.load_statuses(store),
            "operator": await state_store.load_operator_states(store),
            "pings": await push_store.watch(store, ["web"], T0),
            "probes": await probes_store.results_of(store, "web"),
        }


@pytest.fixture
def config(make_config: Callable[[str], Config]) -> Config:
    return make_config(CONFIG)


@pytest.fixture
def seeded(tmp_path: Path, config: Config, registry: PluginRegistry) -> tuple[Path, str, str]:
    path = tmp_path / "uplight.db"
    token, secret = asyncio.run(seed(path, config, registry))
    return path, token, secret


def source_counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'migrations'"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def test_a_copy_reads_back_the_same_through_the_services(
    seeded: tuple[Path, str, str], postgres_url: str
) -> None:
    path, token, secret = seeded
    counts = source_counts(path)
    # The seed touched every table, so the copy of each is really tested.
    assert [name for name, n in counts.items() if n == 0] == []
    before = asyncio.run(observe(path, token, secret))
    seen: list[tuple[str, int, int]] = []

    report = copy_database(
        path,
        postgres_url,
        build=build_store,
        known_migrations=KNOWN,
        progress=lambda *step: seen.append(step),
    )

    assert {t.name: t.target_rows for t in report.tables} == counts
    assert all(t.source_rows == t.target_rows for t in report.tables)
    names = [t.name for t in report.tables]
    # Parents before children (foreign keys).
    assert names.index("incidents") < names.index("incident_updates")
    assert names.index("maintenance_windows") < names.index("maintenance_components")
    assert names.index("status_pages") < names.index("page_components")
    assert report.rows == sum(counts.values()) and report.replaced == ()
    assert seen[-1][1:] == (report.rows, report.rows)
    after = asyncio.run(observe(postgres_url, token, secret))
    assert before["session"] is not None and before["token_is"] == "admin"
    for key, value in before.items():
        assert after[key] == value, key


def test_after_a_copy_new_rows_get_new_ids(
    seeded: tuple[Path, str, str], postgres_url: str, config: Config, registry: PluginRegistry
) -> None:
    path, _, _ = seeded
    copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)

    async def write_more() -> None:
        clock = FakeClock(T0 + dt.timedelta(hours=1))
        async with build_store(postgres_url) as store:
            s = services(store, config, registry, clock)
            copied = (await s.incidents.list_incidents()).items
            opened = await s.incidents.open_manual(
                ManualIncidentFields(public_title="Another", message="New"), created_by="admin"
            )
            assert opened.id > max(i.id for i in copied)
            window = await s.maintenance.schedule(
                WindowFields(
                    "Later", None, "info", (), T0 + dt.timedelta(days=3), T0 + dt.timedelta(days=4)
                ),
                created_by="admin",
            )
            assert window.id > max(w.id for w in await list_windows(store) if w.id != window.id)
            assert await verify_token(store, await create_token(store, "new")) == "new"
            store.add_result(ResultRecord("web", clock.now(), CheckResult(CheckStatus.UP, 0.1)))
            await store.flush()
            assert (await recent_results(store, "web", limit=1))[0].checked_at == clock.now()

    asyncio.run(write_more())


def test_an_autoincrement_high_mark_is_not_given_out_again(
    seeded: tuple[Path, str, str], postgres_url: str, config: Config, registry: PluginRegistry
) -> None:
    """A purged maintenance window's id is never given out again (AUTOINCREMENT in
    SQLite): not after the copy either."""
    path, _, _ = seeded

    async def purge_newest(location: Path | str) -> int:
        async with build_store(location) as store:
            s = services(store, config, registry, FakeClock(T0))
            newest = max(w.id for w in await list_windows(store, limit=100))
            await s.maintenance.purge(newest)
            return newest

    purged = asyncio.run(purge_newest(path))
    copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)

    async def next_id() -> int:
        async with build_store(postgres_url) as store:
            s = services(store, config, registry, FakeClock(T0))
            assert max(w.id for w in await list_windows(store, limit=100)) < purged
            later = T0 + dt.timedelta(days=5)
            fields = WindowFields("Next", None, "info", (), later, later + dt.timedelta(hours=1))
            return (await s.maintenance.schedule(fields, created_by="admin")).id

    assert asyncio.run(next_id()) == purged + 1


# -- refusals -------------------------------------------------------------------------


def tables_with_rows(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name NOT IN ('migrations', 'meta')"
            )
        ]
        return sorted(n for n in names if conn.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone())


def test_a_target_holding_data_is_refused_unless_forced(
    seeded: tuple[Path, str, str],
    postgres_url: str,
    tmp_path: Path,
    config: Config,
    registry: PluginRegistry,
) -> None:
    path, token, secret = seeded
    other = tmp_path / "other.db"

    async def small() -> None:
        async with build_store(other) as store:
            await create_token(store, "other")

    asyncio.run(small())
    copy_database(other, postgres_url, build=build_store, known_migrations=KNOWN)
    with pytest.raises(TargetNotEmpty) as refused:
        copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)
    assert refused.value.tables == ("api_tokens",)
    assert "already holds data (in api_tokens)" in str(refused.value)
    assert tables_with_rows(postgres_url) == ["api_tokens"]  # left as it was

    report = copy_database(
        path, postgres_url, build=build_store, known_migrations=KNOWN, force=True
    )
    assert report.replaced == ("api_tokens",)
    after = asyncio.run(observe(postgres_url, token, secret))
    assert [t.name for t in after["tokens"]] == ["admin", "probe-eu"]


def test_a_failed_copy_leaves_the_target_as_it_was(
    seeded: tuple[Path, str, str], postgres_url: str
) -> None:
    path, _, _ = seeded
    with sqlite3.connect(path) as conn:
        # A value PostgreSQL refuses (text with a NUL), after other tables were copied.
        conn.execute("UPDATE result_texts SET text = 'a' || char(0) || rowid")
    conn.close()
    with pytest.raises(CopyError):
        copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)
    assert tables_with_rows(postgres_url) == []


def test_a_missing_or_foreign_source_is_refused(tmp_path: Path, postgres_url: str) -> None:
    with pytest.raises(CopyError, match="no database at"):
        copy_database(tmp_path / "none.db", postgres_url, build=build_store, known_migrations=KNOWN)
    text = tmp_path / "notes.txt"
    text.write_text("not a database, but long enough to be read as a header " * 10)
    with pytest.raises(CopyError, match="is not an SQLite database"):
        copy_database(text, postgres_url, build=build_store, known_migrations=KNOWN)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    with pytest.raises(CopyError, match="is not an uplight database"):
        copy_database(other, postgres_url, build=build_store, known_migrations=KNOWN)
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()
    assert tables_with_rows(postgres_url) == []


def test_an_older_source_is_refused_unless_migrated(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "uplight.db"
    shutil.copyfile(RELEASE_DB, path)  # written by release 0.1.0
    with pytest.raises(SourceOutdated) as refused:
        copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)
    assert "m007_packed_results" in refused.value.missing
    assert path.read_bytes() == RELEASE_DB.read_bytes()  # untouched
    assert tables_with_rows(postgres_url) == []

    report = copy_database(
        path, postgres_url, build=build_store, known_migrations=KNOWN, migrate_source=True
    )
    assert report.migrated_source == refused.value.missing
    assert source_counts(path) == {t.name: t.target_rows for t in report.tables}
    assert report.rows > 0


def test_a_newer_source_is_refused(seeded: tuple[Path, str, str], postgres_url: str) -> None:
    path, _, _ = seeded
    with pytest.raises(CopyError, match=f"newer uplight .*{KNOWN[-1]}"):
        copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN[:-1])


def test_a_source_in_use_is_refused(seeded: tuple[Path, str, str], postgres_url: str) -> None:
    path, _, _ = seeded
    held = sqlite3.connect(path)
    try:
        held.execute("PRAGMA journal_mode=WAL")
        held.execute("SELECT count(*) FROM migrations").fetchone()
        with pytest.raises(CopyError, match="is in use: stop `uplight serve`"):
            copy_database(path, postgres_url, build=build_store, known_migrations=KNOWN)
    finally:
        held.close()


# -- the command ----------------------------------------------------------------------


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["db", "copy", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_each_table_and_what_to_do_next(
    seeded: tuple[Path, str, str], postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = seeded
    code, out, err = run("--from", str(path), "--to", postgres_url, capsys=capsys)
    assert code == 0, err
    assert err == ""  # no progress line: not a terminal
    lines = out.splitlines()
    counts = source_counts(path)
    for name, count in counts.items():
        assert any(line.split() == [name, f"{count:,}"] for line in lines), name
    total = sum(counts.values())
    assert f"{total:,} rows in {len(counts)} tables" in out
    assert "next: set [storage] url" in out

    code, out, err = run("--from", str(path), "--to", postgres_url, capsys=capsys)
    assert code == 1 and out == ""
    assert "already holds data" in err and "run again with --force" in err

    code, out, err = run(
        "--from", str(path), "--to", postgres_url, "--force", "--quiet", capsys=capsys
    )
    assert (code, out, err) == (0, "", "")


def test_the_command_refuses_bad_input_clearly(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    code, out, err = run("--from", str(missing), "--to", postgres_url, capsys=capsys)
    assert (code, out) == (1, "")
    assert err == f"error: no database at {missing}\n"

    code, _, err = run("--from", str(missing), "--to", str(tmp_path / "x.db"), capsys=capsys)
    assert code == 2 and "give a PostgreSQL URL" in err

    old = tmp_path / "old.db"
    shutil.copyfile(RELEASE_DB, old)
    code, _, err = run("--from", str(old), "--to", postgres_url, capsys=capsys)
    assert code == 1
    assert "was last opened by an older uplight" in err and "--migrate-source" in err


def test_an_unreachable_server_is_named_without_its_password(
    seeded: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = seeded
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql://uplight:hunter2@127.0.0.1:{port}/uplight?connect_timeout=5"
    code, out, err = run("--from", str(path), "--to", url, capsys=capsys)
    assert (code, out) == (1, "")
    assert f"cannot connect to postgresql://uplight:***@127.0.0.1:{port}/uplight" in err
    assert "hunter2" not in err


def test_the_progress_line_is_redrawn_in_place_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ProgressLine.on(io.StringIO()) is None
    stream = Terminal()
    line = ProgressLine.on(stream)
    assert line is not None
    line("incidents", 0, 2000)
    line("incidents", 1, 2000)  # the same percent: not redrawn
    line("result_blocks", 2000, 2000)
    line.close()
    drawn = stream.getvalue().split("\r")[1:]
    assert [d.rstrip() for d in drawn] == [
        "copying incidents: 0/2,000 rows (0%)",
        "copying result_blocks: 2,000/2,000 rows (100%)",
    ]
    assert drawn[-1].endswith("\n")
