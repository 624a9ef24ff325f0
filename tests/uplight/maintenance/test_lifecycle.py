"""The lifecycle rules on their own: status by the clock, due transitions, validation."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from uplight.maintenance.lifecycle import (
    MaintenanceError,
    clock_status,
    due_status,
    validate_window,
)
from uplight.maintenance.models import StoredWindow

START = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=1)


def window(status: str) -> StoredWindow:
    return StoredWindow(
        id=1,
        title="Upgrade",
        description=None,
        severity="info",
        component_ids=("web",),
        starts_at=START,
        ends_at=END,
        status=status,
        completed_at=None,
        cancelled_at=None,
        created_at=START,
        updated_at=START,
        created_by="ops",
        source="api",
        config_id=None,
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (START - dt.timedelta(seconds=1), "scheduled"),
        (START, "active"),  # the start is inside the window
        (END - dt.timedelta(milliseconds=1), "active"),
        (END, "completed"),  # the end is not
    ],
)
def test_clock_status_at_the_boundaries(now: dt.datetime, expected: str) -> None:
    assert clock_status(START, END, now) == expected


def test_due_status_moves_only_forward() -> None:
    assert due_status(window("scheduled"), START - dt.timedelta(minutes=1)) is None
    assert due_status(window("scheduled"), START) == "active"
    assert due_status(window("scheduled"), END) == "completed"  # never seen active
    assert due_status(window("active"), START) is None
    assert due_status(window("active"), END) == "completed"
    for settled in ("completed", "cancelled"):
        assert due_status(window(settled), END + dt.timedelta(days=1)) is None
    # A live window whose start moved later is not sent back to scheduled.
    assert due_status(window("active"), START - dt.timedelta(minutes=1)) is None


def test_validate_window_names_the_field() -> None:
    fields = window("scheduled").fields
    validate_window(fields, {"web"})
    with pytest.raises(MaintenanceError) as refused:
        validate_window(dataclasses.replace(fields, ends_at=START), {"web"})
    assert (refused.value.code, refused.value.field) == ("INVALID_TIME_RANGE", "ends_at")
    with pytest.raises(MaintenanceError) as refused:
        validate_window(dataclasses.replace(fields, ends_at=START + dt.timedelta(days=31)), {"web"})
    assert refused.value.code == "INVALID_DURATION"
    ghost = dataclasses.replace(fields, component_ids=("web", "ghost"))
    with pytest.raises(MaintenanceError) as refused:
        validate_window(ghost, {"web"})
    assert (refused.value.code, refused.value.field) == (
        "INVALID_COMPONENT_ID",
        "component_ids[1]",
    )
    validate_window(ghost, {"web"}, check_components=False)
