"""Times as people type them on the command line: ``now``, a local time, or ISO 8601.

A time without an offset is a wall-clock time in ``--tz`` (else this machine's
zone). One the clocks skip (spring forward) or pass twice (fall back) is refused
with the reason, rather than guessed: a window an hour off is a real outage.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..maintenance.recurrence import parse_timezone


class TimeError(ValueError):
    """A flag's time cannot be used; the message names the flag."""


def time_zone(name: str | None) -> ZoneInfo | None:
    """``--tz``'s zone; None is this machine's zone."""
    if name is None:
        return None
    try:
        return parse_timezone(name)
    except ValueError as exc:
        raise TimeError(f"--tz: {exc}") from None


def parse_time(flag: str, value: str, zone: ZoneInfo | None, now: dt.datetime) -> dt.datetime:
    """``value`` as an aware datetime; ``now`` (aware) is what the word ``now`` means."""
    text = value.strip()
    if text.lower() == "now":
        return now
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TimeError(
            f"{flag}: {value!r} is not a time: use now, a local time such as"
            " 2030-01-05T03:00, or ISO 8601 with an offset such as 2030-01-05T03:00:00Z"
        ) from None
    if moment.tzinfo is not None:
        return moment
    return _localise(flag, moment, zone)


def _localise(flag: str, wall: dt.datetime, zone: ZoneInfo | None) -> dt.datetime:
    def to_utc(moment: dt.datetime) -> dt.datetime:
        # A naive datetime's astimezone() reads it in this machine's zone, fold included.
        aware = moment.replace(tzinfo=zone) if zone else moment
        return aware.astimezone(dt.UTC)

    def to_wall(moment: dt.datetime) -> dt.datetime:
        return (moment.astimezone(zone) if zone else moment.astimezone()).replace(
            tzinfo=None, fold=0
        )

    first, second = to_utc(wall.replace(fold=0)), to_utc(wall.replace(fold=1))
    if first == second:
        return first
    where = zone.key if zone else "this machine's time zone"
    if to_wall(first) != wall:
        raise TimeError(
            f"{flag}: {wall:%Y-%m-%d %H:%M} does not exist in {where} (the clocks skip it):"
            " give another time or an offset"
        )
    raise TimeError(
        f"{flag}: {wall:%Y-%m-%d %H:%M} happens twice in {where} (the clocks go back):"
        " give an offset, e.g. +01:00"
    )


def wire_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as the API speaks."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
