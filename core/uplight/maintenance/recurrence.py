"""Recurring schedules for maintenance windows: weekly days or 5-field cron.

Pure functions, no I/O. A schedule is a :class:`CronSpec`; a weekly schedule
(``days = ["sun"], at = "03:00"``) is the cron ``0 3 * * 0``. Times are wall
clock times in a time zone (UTC unless the config names one), so "03:00 in
Europe/Berlin" stays 03:00 local across daylight saving changes. A local time
that does not exist (inside a spring-forward gap) is read with the offset in
force before the gap, i.e. it moves later by the gap (02:30 → 03:30); a local
time that happens twice (fall back) means its first occurrence.

Push monitors' schedules use croniter; this module does not, because croniter
reads these schedules differently from what maintenance windows promise (and
their tests hold): a time in a spring-forward gap lands on the jump instead of
moving later by the gap, a time in the repeated hour comes twice, ``*/2`` in the
day-of-month with a weekday means either rather than both, and it accepts ranges
that run backwards, ``?`` and schedules that never match (``30 feb``), where the
config should say what is wrong.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbering: sun = 0
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# Feb 29 can be 8 years apart (2096 → 2104); no schedule that matches at all is sparser.
_SEARCH_DAYS = 366 * 9


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day of week", 0, 7, WEEKDAYS, 0),  # 7 is Sunday too
)


@dataclass(frozen=True)
class CronSpec:
    """The sets a time must fall in. ``dom_restricted``/``dow_restricted`` follow
    classic cron: when both day fields are restricted a day matching either one
    counts; when one is ``*`` only the other decides."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    dom_restricted: bool
    dow_restricted: bool

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_restricted and self.dow_restricted:
            return dom or dow
        return dom and dow


def parse_cron(text: str) -> CronSpec:
    """``minute hour day-of-month month day-of-week``: numbers, ``*``, ranges ``a-b``,
    lists ``a,b``, steps ``*/n`` and ``a-b/n``, month and weekday names, and the
    ``@daily``-style presets. Raises ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError("cron must be a string such as '0 3 * * 0'")
    expression = PRESETS.get(text.strip().lower(), text)
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron {text!r} must have 5 fields (minute hour day-of-month month day-of-week),"
            f" not {len(parts)}"
        )
    sets = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = sets
    weekdays = frozenset(d % 7 for d in weekdays)
    spec = CronSpec(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        dom_restricted=not parts[2].startswith("*"),
        dow_restricted=not parts[4].startswith("*"),
    )
    if not (spec.dom_restricted and spec.dow_restricted) and not any(
        day <= _longest_month(month) for month in months for day in days
    ):
        raise ValueError(f"cron {text!r} never matches: no month has those days")
    return spec


def _longest_month(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        match = re.fullmatch(r"(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?", item)
        if not match:
            raise ValueError(f"cron {field.name} field {text!r}: cannot read {item!r}")
        span, step_text = match.groups()
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            first, last = span.split("-")
            low, high = _value(first, field), _value(last, field)
            if low > high:
                raise ValueError(f"cron {field.name} range {span!r} runs backwards")
        else:
            low = _value(span, field)
            # "5/15" is "5-max/15", as in Vixie cron.
            high = field.high if step_text else low
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron {field.name} step must be at least 1")
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        value = int(token)
    elif token in field.names:
        value = field.names.index(token) + field.name_base
    else:
        names = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise ValueError(f"cron {field.name}: {token!r} is not a number{names}")
    if not field.low <= value <= field.high:
        raise ValueError(f"cron {field.name}: {value} is outside {field.low}-{field.high}")
    return value


def parse_time_of_day(text: str) -> tuple[int, int]:
    """``"HH:MM"`` (24-hour) → (hour, minute)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip()) if isinstance(text, str) else None
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f'{text!r} is not a time of day: use "HH:MM", e.g. "03:00"')
    return int(match.group(1)), int(match.group(2))


def parse_weekday(text: str) -> int:
    """``"sun"``/``"sunday"`` … → 0 … 6."""
    word = text.strip().lower() if isinstance(text, str) else ""
    for number, name in enumerate(WEEKDAYS):
        if word in (name, calendar.day_name[(number - 1) % 7].lower()):
            return number
    raise ValueError(f"{text!r} is not a day of the week: use {', '.join(WEEKDAYS)}")


def weekly_spec(days: Sequence[str], at: str) -> CronSpec:
    """``days = ["sat", "sun"], at = "03:00"`` as a cron spec."""
    if not days:
        raise ValueError("give at least one day")
    hour, minute = parse_time_of_day(at)
    return CronSpec(
        minutes=frozenset({minute}),
        hours=frozenset({hour}),
        days=frozenset(range(1, 32)),
        months=frozenset(range(1, 13)),
        weekdays=frozenset(parse_weekday(day) for day in days),
        dom_restricted=False,
        dow_restricted=True,
    )


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None


def _local_starts(spec: CronSpec, day: dt.date, tz: dt.tzinfo) -> Iterable[dt.datetime]:
    if not spec.matches_day(day):
        return
    for hour in sorted(spec.hours):
        for minute in sorted(spec.minutes):
            # fold=0: a time in a gap takes the earlier offset (moves later), a
            # repeated time means its first occurrence.
            local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            yield local.astimezone(dt.UTC)


def occurrences(
    spec: CronSpec,
    tz: dt.tzinfo,
    start: dt.datetime,
    end: dt.datetime,
    *,
    limit: int = 1000,
) -> list[dt.datetime]:
    """Occurrence times (UTC, ascending, distinct) with ``start <= t < end``, at most ``limit``."""
    found: set[dt.datetime] = set()
    # A local date can hold UTC instants of the neighbouring UTC dates: look one day wider.
    day = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    while day <= last:
        for moment in _local_starts(spec, day, tz):
            if start <= moment < end:
                found.add(moment)
        if len(found) >= limit:
            break
        day += dt.timedelta(days=1)
    return sorted(found)[:limit]


def next_occurrence(spec: CronSpec, tz: dt.tzinfo, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence strictly after ``after`` (UTC), or None if there is none."""
    day = after.astimezone(tz).date() - dt.timedelta(days=1)
    for _ in range(_SEARCH_DAYS):
        candidates = [m for m in _local_starts(spec, day, tz) if m > after]
        if candidates:
            return min(candidates)
        day += dt.timedelta(days=1)
    return None
