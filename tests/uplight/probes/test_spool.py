"""The probe's spool: on disk, bounded (oldest dropped, counted), the assignment kept."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from uplight.probes.models import AssignedMonitor, Assignment, ProbeResult
from uplight.probes.spool import Spool

AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def result(n: int) -> ProbeResult:
    return ProbeResult(
        id=f"r{n}", monitor_id="edge", checked_at=AT + dt.timedelta(seconds=n), status="up"
    )


def test_results_survive_a_reopen_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    for n in range(3):
        spool.add(result(n))
    spool.add(result(1))  # the same id twice is kept once
    spool.close()
    again = Spool(tmp_path / "s.spool")
    assert [r.id for r in again.oldest(10)] == ["r0", "r1", "r2"]
    again.remove(["r0", "r2"])
    assert [r.id for r in again.oldest(10)] == ["r1"] and again.pending() == 1


def test_a_full_spool_drops_the_oldest_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "s.spool", limit=3)
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            spool.add(result(n))
    assert [r.id for r in spool.oldest(10)] == ["r2", "r3", "r4"]
    assert spool.dropped == 2
    assert "2 dropped so far" in caplog.text
    spool.close()
    assert Spool(tmp_path / "s.spool", limit=3).dropped == 2  # the count is kept too


def test_the_assignment_is_kept_for_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    assert spool.assignment() is None
    monitor = AssignedMonitor(
        id="edge", name="Edge", type="http", interval=60, timeout=5, options={"url": "x"}
    )
    spool.save_assignment(Assignment(location="home", version="v1", monitors=[monitor]))
    spool.close()
    kept = Spool(tmp_path / "s.spool").assignment()
    assert kept is not None and kept.version == "v1" and kept.monitors == [monitor]
