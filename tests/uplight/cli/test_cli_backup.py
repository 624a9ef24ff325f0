"""`uplight backup` and `uplight restore`: a consistent copy of the live database while
it is written, and a restore that refuses while the server runs and swaps safely."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from helpers import UPLIGHT, create_token, free_port, serving
from stored import count_results, record

from uplight.cli import main
from uplight.db.backup import BackupError, backup, restore, verify
from uplight.schema import MIGRATIONS, build_store

BASE = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
KNOWN = [m.__name__ for m in MIGRATIONS]


def one(path: Path, sql: str) -> object:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchone()[0]


def rollup_checks(path: Path) -> int:
    return int(one(path, "SELECT coalesce(sum(checks_total), 0) FROM daily_rollups"))  # type: ignore[arg-type]


def migrations_in(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return sorted(row[0] for row in conn.execute("SELECT name FROM migrations"))


async def test_a_backup_under_steady_writes_is_one_point_in_time(tmp_path: Path) -> None:
    db, copy = tmp_path / "uplight.db", tmp_path / "backups" / "nightly.db"
    copy.parent.mkdir()
    committed = threading.Event()
    written = 0
    async with build_store(db, flush_interval=0.01) as store:

        async def write(results: int) -> None:
            nonlocal written
            for _ in range(results):
                at = BASE + dt.timedelta(seconds=written)
                store.add_result(record(f"m{written % 40}", at, message=f"200 OK #{written % 97}"))
                written += 1
            await store.flush()
            committed.set()

        await write(6000)  # a file of many pages, so the copy takes many steps
        steps: list[tuple[int, int]] = []

        def progress(done: int, total: int) -> None:
            steps.append((done, total))
            if len(steps) <= 5:
                # Each of the first steps waits for a commit of the server's writer.
                committed.clear()
                assert committed.wait(10), "no write committed during the backup"

        stop = False

        async def steady() -> None:
            while not stop:
                await write(25)
                await asyncio.sleep(0.001)

        writer = asyncio.create_task(steady())
        before = written
        done = await asyncio.to_thread(backup, db, copy, progress=progress, pages_per_step=2)
        after_copy = written
        stop = True
        await writer

    assert len(steps) > 5 and steps[-1][0] == steps[-1][1]
    assert done.path == copy and done.bytes == copy.stat().st_size
    assert one(copy, "PRAGMA integrity_check") == "ok"
    assert one(copy, "PRAGMA journal_mode") == "delete"  # one self-contained file
    assert not copy.with_name("nightly.db-wal").exists()
    assert list(copy.parent.iterdir()) == [copy]  # the temporary name is gone
    # As of one point in time: after the writes that came before it, before the last
    # ones, and every transaction whole (a flush writes results and rollups together).
    copied = count_results(copy)
    assert before <= copied < after_copy <= count_results(db)
    assert rollup_checks(copy) == copied
    # It opens with the current schema: nothing left to migrate.
    assert migrations_in(copy) == sorted(KNOWN)
    async with build_store(copy):
        pass
    assert migrations_in(copy) == sorted(KNOWN) and count_results(copy) == copied


def config_for(tmp_path: Path, port: int | None = None) -> Path:
    config = tmp_path / "config.toml"
    text = '[storage]\npath = "data/uplight.db"\n'
    if port is not None:
        text += f"""[server]
listen = "127.0.0.1:{port}"

[[monitors]]
id = "self"
name = "Self"
type = "http"
url = "http://127.0.0.1:{port}/healthz"
interval = "1s"
timeout = "1s"
"""
    config.write_text(text)
    return config


async def make_database(path: Path, results: int = 100) -> None:
    async with build_store(path) as store:
        for i in range(results):
            store.add_result(record("web", BASE + dt.timedelta(minutes=i)))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_backup_command_prints_a_bar_on_a_terminal_the_size_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(tmp_path)
    asyncio.run(make_database(tmp_path / "data" / "uplight.db"))
    target = tmp_path / "b.db"
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["backup", str(target), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"to {target}: {target.stat().st_size:,} bytes" in out and "integrity ok" in out
    assert "\rbacking up [" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert count_results(target) == 100

    target.write_bytes(b"keep me")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert main(["backup", str(target), "--config", str(config)]) == 1
    assert target.read_bytes() == b"keep me"
    assert main(["backup", str(target), "--config", str(config), "--force", "--quiet"]) == 0
    assert capsys.readouterr().out == ""  # --quiet: nothing but errors, for cron
    assert count_results(target) == 100


def test_backup_reads_only_the_storage_table_of_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From cron, a secret only the service can read must not stop the backup."""
    config = config_for(tmp_path)
    config.write_text(
        config.read_text()
        + '[[notifiers]]\nid = "phone"\ntype = "ntfy"\ntopic = { env = "UPLIGHT_TEST_UNSET" }\n'
    )
    asyncio.run(make_database(tmp_path / "data" / "uplight.db"))
    assert main(["backup", str(tmp_path / "b.db"), "--config", str(config), "-q"]) == 0
    assert count_results(tmp_path / "b.db") == 100
    config.write_text('[storage]\npath = "data/uplight.db"\nretention_days = "30"\n')
    assert main(["backup", str(tmp_path / "c.db"), "--config", str(config)]) == 1
    assert "storage.retention_days: must be a whole number" in capsys.readouterr().err


def test_backup_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    run = subprocess.run(
        [*UPLIGHT, "backup", str(tmp_path / "b.db"), "--config", str(config), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert f"no database at {tmp_path / 'data' / 'uplight.db'}" in run.stderr
    assert not (tmp_path / "b.db").exists()


def test_restore_refuses_while_the_server_runs_and_the_next_server_sees_the_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = config_for(tmp_path, port)
    db = tmp_path / "data" / "uplight.db"
    backup_file = tmp_path / "before-upgrade.db"
    with serving(config, port):
        kept_token = create_token(config, "kept")
        assert main(["backup", str(backup_file), "--config", str(config)]) == 0
        later_token = create_token(config, "later")  # only in the live database
        capsys.readouterr()
        assert main(["restore", str(backup_file), "--config", str(config)]) == 1
        assert "in use: stop `uplight serve`" in capsys.readouterr().err
        assert not list(db.parent.glob("*.before-restore-*"))
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    assert verify(backup_file, KNOWN) == len(KNOWN)

    assert main(["restore", str(backup_file), "--config", str(config)]) == 0
    kept = list(db.parent.glob("uplight.db.before-restore-*"))
    assert len(kept) == 1 and f"kept as {kept[0]}" in capsys.readouterr().out
    assert sorted(p.name for p in db.parent.iterdir()) == ["uplight.db", kept[0].name]
    assert backup_file.exists()  # the backup itself is copied, not moved

    with serving(config, port):
        url = f"http://127.0.0.1:{port}/api/v1/monitors"
        auth = {"Authorization": f"Bearer {kept_token}"}
        assert httpx.get(url, headers=auth).status_code == 200
        later = {"Authorization": f"Bearer {later_token}"}
        assert httpx.get(url, headers=later).status_code == 401


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_text("name = 'not a database'\n" * 200), "is not an SQLite database"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE notes (x)").connection.commit(),
            "is not an uplight database",
        ),
        ("corrupt", "is damaged"),
        ("newer", "was made by a newer uplight"),
    ],
)
def test_restore_refuses_what_is_not_an_intact_uplight_database(
    tmp_path: Path, make: object, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "uplight.db"
    db.parent.mkdir()
    asyncio.run(make_database(db))
    original = db.read_bytes()
    candidate = tmp_path / "candidate.db"
    if make == "corrupt":
        backup(db, candidate)
        data = bytearray(candidate.read_bytes())
        page = 4096
        data[3 * page : 6 * page] = b"\xa5" * (3 * page)  # pages of tables, not the header
        candidate.write_bytes(bytes(data))
    elif make == "newer":
        backup(db, candidate)
        with contextlib.closing(sqlite3.connect(candidate)) as conn:
            conn.execute("INSERT INTO migrations VALUES ('m999_from_the_future', 'x')")
            conn.commit()
    else:
        make(candidate)  # type: ignore[operator]
    assert main(["restore", str(candidate), "--config", str(config_for(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert says in err and "nothing was changed" in err
    assert db.read_bytes() == original
    assert sorted(p.name for p in db.parent.iterdir()) == ["uplight.db"]


def test_restore_into_a_fresh_place_and_a_missing_backup(tmp_path: Path) -> None:
    source = tmp_path / "old.db"
    asyncio.run(make_database(source, results=7))
    target = tmp_path / "new" / "uplight.db"
    done = restore(source, target, known_migrations=KNOWN)
    assert done.kept is None and count_results(target) == 7
    with pytest.raises(BackupError, match="no such file"):
        restore(tmp_path / "missing.db", target, known_migrations=KNOWN)
    with pytest.raises(BackupError, match="create it first"):
        backup(target, tmp_path / "no-such-folder" / "b.db")


def test_restore_after_a_crash_keeps_what_was_only_in_the_wal(tmp_path: Path) -> None:
    """A server killed mid-run leaves a -wal holding commits the file lacks: the kept
    file gets them, and no stale -wal or -shm is left beside the restored one."""
    db = tmp_path / "uplight.db"
    asyncio.run(make_database(db, results=5))
    good = tmp_path / "good.db"
    backup(db, good)
    crash = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "conn.execute(\"INSERT INTO migrations VALUES ('only_in_the_wal', 'x')\")\n"
        "os._exit(0)\n"  # no close: the commit stays in the WAL
    )
    subprocess.run([sys.executable, "-c", crash, str(db)], check=True)
    assert db.with_name("uplight.db-wal").stat().st_size > 0
    done = restore(good, db, known_migrations=KNOWN)
    assert done.kept is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["uplight.db", "good.db", done.kept.name]
    )
    assert "only_in_the_wal" in migrations_in(done.kept)
    assert "only_in_the_wal" not in migrations_in(db) and count_results(db) == 5
