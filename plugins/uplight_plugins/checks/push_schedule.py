"""When a cron-scheduled job is expected to run, read the way the system's cron runs it.

croniter parses the expression and steps through wall-clock times; the mapping of
a wall-clock time onto the time line follows Vixie cron (what runs the job on most
Linux boxes), which croniter's own time zone handling does not:

- a day-of-month and a day-of-week both restricted match either one, unless one of
  them starts with ``*`` (``*/2``): then both must hold;
- a local time that happens twice when clocks go back is expected once, at its
  first occurrence (croniter would expect "30 2 * * *" twice that night);
- a local time that does not exist when clocks go forward is expected at the moment
  the clocks jump (cron runs it at once then).

croniter (and dateutil with it, 1.2 MB of a process) is imported by the first
schedule read: a config without cron schedules never loads it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

# Schedules between occurrences stepped through before giving up, as cron would never
# fire (croniter's own limit for "30 2 30 2 *").
_MAX_STEPS = 10_000


def check_schedule(expression: str) -> str:
    """The expression, or ``ValueError`` saying what is wrong with it."""
    text = expression.strip()
    if not text.startswith("@") and len(text.split()) != 5:
        raise ValueError(
            f"schedule {expression!r} must have 5 fields "
            "(minute hour day-of-month month day-of-week) or be @hourly, @daily, …"
        )
    from croniter import CroniterBadCronError, croniter

    try:
        croniter(text, dt.datetime(2000, 1, 1), day_or=_day_or(text))
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ValueError(f"schedule {expression!r} is not a cron expression: {exc}") from None
    if next_run(text, dt.UTC, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None:
        raise ValueError(f"schedule {expression!r} never matches")
    return text


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    return name


def _day_or(expression: str) -> bool:
    fields = expression.split()
    if len(fields) != 5:
        return True  # @daily and friends restrict at most one of the two
    return not (fields[2].startswith("*") or fields[4].startswith("*"))


def next_run(expression: str, tz: dt.tzinfo, after: dt.datetime) -> dt.datetime | None:
    """The first time (UTC) strictly after ``after`` that the job is expected to run,
    or None when the expression never matches."""
    from croniter import CroniterBadDateError, croniter

    local_after = after.astimezone(tz).replace(tzinfo=None)
    # No wall-clock time before ``after``'s own maps to an instant after it (a time in
    # the gap maps to the jump, a repeated one to its first occurrence); a minute back
    # covers croniter dropping seconds, and what maps to ``after`` or before is skipped.
    steps = croniter(expression, local_after - dt.timedelta(minutes=1), day_or=_day_or(expression))
    try:
        for _ in range(_MAX_STEPS):
            moment = _on_time_line(steps.get_next(dt.datetime), tz)
            if moment > after:
                return moment
    except CroniterBadDateError:
        return None
    return None


def _on_time_line(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """A naive wall-clock time as a UTC instant, as cron reads it (see the module)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # it exists; fold=0 is its first occurrence if it happens twice
    # In the gap: the jump happens between the two readings of this wall time.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(dt.UTC)
    high = first
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) + (
        dt.timedelta(seconds=1) if high.microsecond else dt.timedelta(0)
    )
