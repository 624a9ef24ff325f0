"""The maintenance lifecycle rules: which status a window has at a given moment, and
what makes a window valid.

Pure functions, shared by the service (which stores what they decide), recurring
windows and the public page (whose stored statuses may lag the clock).
"""

from __future__ import annotations

import datetime as dt

from ..config import MAX_MAINTENANCE_SECONDS
from .models import LIVE, StoredWindow, WindowFields

MAX_DURATION = dt.timedelta(seconds=MAX_MAINTENANCE_SECONDS)


class MaintenanceError(Exception):
    """A request the lifecycle refuses (422 on the API), with the field it is about."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def clock_status(starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime) -> str:
    """The status a live (scheduled or active) window has at ``now``."""
    if ends_at <= now:
        return "completed"
    return "active" if starts_at <= now else "scheduled"


def due_status(window: StoredWindow, now: dt.datetime) -> str | None:
    """The status a stored window must move to at ``now``, None when it stays.

    Only forward: a scheduled window starts, a live one ends. Cancelled and
    completed windows never move.
    """
    if window.status not in LIVE:
        return None
    status = clock_status(window.starts_at, window.ends_at, now)
    if status == "completed" or (status == "active" and window.status == "scheduled"):
        return status
    return None


def to_ms_precision(value: dt.datetime) -> dt.datetime:
    """Times are stored in milliseconds: validate what will be stored."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def validate_window(
    fields: WindowFields, monitor_ids: set[str], *, check_components: bool = True
) -> None:
    """The rules that span fields (the API models check each field on its own).

    ``check_components=False`` skips the monitor ids: a PATCH that does not send
    ``component_ids`` must not fail on a stored id whose monitor has since left
    the config (the window would be impossible to rename or move otherwise).
    """
    if fields.ends_at <= fields.starts_at:
        raise MaintenanceError("INVALID_TIME_RANGE", "must be after starts_at", field="ends_at")
    if fields.ends_at - fields.starts_at > MAX_DURATION:
        raise MaintenanceError(
            "INVALID_DURATION",
            "must be at most 30 days after starts_at",
            field="ends_at",
        )
    if not check_components:
        return
    for index, monitor_id in enumerate(fields.component_ids):
        if monitor_id not in monitor_ids:
            raise MaintenanceError(
                "INVALID_COMPONENT_ID",
                f"no monitor has id {monitor_id!r}",
                field=f"component_ids[{index}]",
            )
