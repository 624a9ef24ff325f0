"""`uplight db compact`: a full VACUUM that gives free space back and switches an older
file to incremental auto-vacuum; refused while the database is open elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest

from uplight.cli import main
from uplight.db.compaction import DatabaseInUse, compact, file_bytes
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.store import StoredResult, prune_results, recent_results
from uplight.schema import build_store

RELEASE_DB = Path(__file__).with_name("data") / "release-0.1.0.sqlite"
BASE = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def config_file(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{database}"\n')
    return config


def pragma(path: Path, name: str) -> int:
    # Closed here, not left to the garbage collector: an open connection stops compact.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def fill_and_prune(path: Path) -> list[StoredResult]:
    """Many results, most of them pruned again: a file with lots of free pages."""
    async with build_store(path, flush_interval=60) as store:
        for i in range(30_000):
            at = BASE - dt.timedelta(days=40) + dt.timedelta(minutes=i)
            result = CheckResult(CheckStatus.DOWN, 0.25, f"refused #{i}", {"attempt": i})
            store.add_result(ResultRecord(f"m{i % 30}", at, result))
        await store.flush()
        await prune_results(store, BASE - dt.timedelta(days=20))
        return await recent_results(store, "m7", limit=10_000)


async def read_back(path: Path) -> list[StoredResult]:
    async with build_store(path, flush_interval=60) as store:
        return await recent_results(store, "m7", limit=10_000)


def test_compact_gives_the_space_back_and_turns_on_incremental_vacuum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "uplight.db"
    shutil.copyfile(RELEASE_DB, path)  # made before incremental auto-vacuum
    kept = asyncio.run(fill_and_prune(path))
    assert kept and pragma(path, "auto_vacuum") == 0
    assert pragma(path, "freelist_count") > 100
    before = file_bytes(path)

    code = main(["db", "compact", "--config", str(config_file(tmp_path, path))])

    out, err = capsys.readouterr()
    assert code == 0, err
    after = file_bytes(path)
    assert after < before / 2
    assert out.startswith(f"compacted {path}: ")
    assert f"({before:,} -> {after:,} bytes)" in out
    assert "space freed by pruning old results goes back" in out
    assert pragma(path, "auto_vacuum") == 2
    assert pragma(path, "freelist_count") == 0
    assert asyncio.run(read_back(path)) == kept

    # Once more: nothing left to give back, and the mode is already right.
    again = compact(path)
    assert (again.auto_vacuum_before, again.bytes_after) == ("incremental", after)


def test_compact_refuses_while_the_database_is_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "uplight.db"
    config = config_file(tmp_path, path)

    async def while_open() -> int:
        async with build_store(path, flush_interval=60) as store:
            store.add_result(ResultRecord("web", BASE, CheckResult(CheckStatus.UP, 0.1)))
            await store.flush()
            with pytest.raises(DatabaseInUse):
                await asyncio.to_thread(compact, path)
            return await asyncio.to_thread(main, ["db", "compact", "--config", str(config)])

    assert asyncio.run(while_open()) == 1
    _, err = capsys.readouterr()
    assert f"error: {path} is in use: stop `uplight serve`" in err
    assert pragma(path, "auto_vacuum") == 2  # untouched, and still readable
    assert len(asyncio.run(read_back_web(path))) == 1


async def read_back_web(path: Path) -> list[StoredResult]:
    async with build_store(path, flush_interval=60) as store:
        return await recent_results(store, "web")


def test_compact_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing.db"
    assert main(["db", "compact", "--config", str(config_file(tmp_path, missing))]) == 1
    assert f"error: no database at {missing}" in capsys.readouterr().err
    assert not missing.exists()

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, " * 512)
    assert main(["db", "compact", "--config", str(config_file(tmp_path, garbage))]) == 1
    assert f"error: could not compact {garbage}: " in capsys.readouterr().err
    assert garbage.read_bytes() == b"not a database, " * 512
