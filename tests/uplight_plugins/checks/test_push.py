"""The ``push`` check type on its own: options, what a ping stands for, and the deadline.

The routes and the scheduler around it are tested through the real app in
``tests/uplight/web/test_ping.py``; here the state is built by hand, so every
case of the deadline (period, cron in a time zone, daylight saving, max_runtime,
a restart) reads as a table.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest

from uplight import CheckContext, CheckStatus, Ping, PingState
from uplight.config import Config, ConfigError
from uplight_plugins.checks.push import PushCheck, PushOptions
from uplight_plugins.checks.push_schedule import next_run

MakeConfig = Callable[[str], Config]
TOKEN = "0123456789abcdefghij-SECRET"
T0 = dt.datetime(2024, 6, 3, 12, 0, tzinfo=dt.UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
CHECK = PushCheck()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def options(**keys: Any) -> PushOptions:
    return PushOptions.model_validate({"token": TOKEN, **keys})


def state(**times: Any) -> PingState:
    values = {"watched_since": T0 - dt.timedelta(days=1), "resumed_at": T0 - dt.timedelta(days=1)}
    return PingState(**{**values, **times})


async def judge(opts: PushOptions, pings: PingState, now: dt.datetime) -> Any:
    return await CHECK.check(opts, CheckContext("job", 10.0, now=now, pings=pings))


def _monitor(**keys: Any) -> str:
    lines = ["[[monitors]]", 'id = "job"', 'name = "Job"', 'type = "push"']
    for key, value in keys.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "path", "fragment"),
    [
        ({"token": "short-secret", "period": "1h"}, "monitors[0].token", "20 to 200 characters"),
        ({"token": "has a space in it, twenty+", "period": "1h"}, "monitors[0].token", "letters"),
        ({"token": "a/b/c/d/e/f/g/h/i/j/k/l", "period": "1h"}, "monitors[0].token", "URL"),
        ({"token": TOKEN}, "monitors[0]", "give period"),
        ({"token": TOKEN, "period": "1h", "schedule": "0 3 * * *"}, "monitors[0]", "not both"),
        ({"token": TOKEN, "period": "1h", "tz": "UTC"}, "monitors[0]", "tz applies to schedule"),
        ({"token": TOKEN, "schedule": "0 3 * *"}, "monitors[0].schedule", "5 fields"),
        ({"token": TOKEN, "schedule": "61 3 * * *"}, "monitors[0].schedule", "not a cron"),
        ({"token": TOKEN, "schedule": "0 3 30 2 *"}, "monitors[0].schedule", "never matches"),
        (
            {"token": TOKEN, "schedule": "0 3 * * *", "tz": "Mars/Olympus"},
            "monitors[0].tz",
            "unknown time zone",
        ),
        ({"token": TOKEN, "period": "30"}, "monitors[0].period", "duration"),
        ({"token": TOKEN, "period": "1h", "grace": "-1s"}, "monitors[0].grace", ""),
    ],
)
def test_config_errors(
    make_config: MakeConfig, keys: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(_monitor(**keys))
    messages = [str(issue) for issue in info.value.issues]
    assert any(i.path == path and fragment in i.message for i in info.value.issues), messages
    assert not any(keys["token"] in m for m in messages), "an error repeats the token"


def test_a_token_from_the_environment_or_a_file(
    make_config: MakeConfig, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_TOKEN", TOKEN)
    config = make_config(_monitor(period="1h") + 'token = { env = "JOB_TOKEN" }\n')
    assert CHECK.ping_token(config.monitors[0].options) == TOKEN
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = make_config(_monitor(period="1h") + f'token = {{ file = "{tmp_path}/token" }}\n')
    assert CHECK.ping_token(config.monitors[0].options) == TOKEN
    assert TOKEN not in repr(config.monitors[0].options)
    assert TOKEN not in str(CHECK.public_summary(config.monitors[0].options))


def test_public_summary_names_the_timing_not_the_token() -> None:
    assert CHECK.public_summary(options(period="1h")) == {"grace": 300.0, "period": 3600.0}
    summary = CHECK.public_summary(
        options(schedule="0 3 * * *", tz="Europe/Berlin", grace="30m", max_runtime="2h")
    )
    assert summary == {
        "grace": 1800.0,
        "schedule": "0 3 * * *",
        "tz": "Europe/Berlin",
        "max_runtime": 7200.0,
    }


# -- pings ------------------------------------------------------------------------------


def test_what_a_ping_stands_for() -> None:
    opts = options(period="1h")
    context = CheckContext(
        "job", 10.0, now=T0, pings=state(last_start=T0 - dt.timedelta(seconds=75))
    )
    assert CHECK.on_ping(opts, Ping("start", T0), context) is None
    done = CHECK.on_ping(opts, Ping("success", T0), context)
    assert (done.status, done.latency, done.message) == (
        CheckStatus.UP,
        75.0,
        "success ping, the run took 1m15s",
    )
    said = CHECK.on_ping(opts, Ping("success", T0, 0, "  12 GB in 75s\n"), context)
    assert (said.message, said.details) == ("12 GB in 75s", {"ping": "success", "exit_code": 0})
    failed = CHECK.on_ping(opts, Ping("fail", T0, 3), context)
    assert (failed.status, failed.message) == (CheckStatus.DOWN, "exit code 3")
    assert CHECK.on_ping(opts, Ping("fail", T0), context).message == "failure ping"
    plain = CheckContext("job", 10.0, now=T0, pings=state())
    assert CHECK.on_ping(opts, Ping("success", T0), plain).latency is None


# -- the deadline -----------------------------------------------------------------------


async def test_period_and_grace() -> None:
    opts = options(period="1h", grace="5m")
    pings = state(last_success=T0)
    assert (await judge(opts, pings, T0 + dt.timedelta(minutes=65))).status is CheckStatus.UP
    late = await judge(opts, pings, T0 + dt.timedelta(minutes=65, seconds=1))
    assert late.status is CheckStatus.DOWN
    assert late.message == "no ping for 1h05m; one was due by 2024-06-03T13:05:00Z"
    assert late.details["deadline"] == "2024-06-03T13:05:00Z"


async def test_never_pinged_counts_from_when_uplight_began_watching() -> None:
    opts = options(period="1h", grace="5m")
    pings = state(watched_since=T0, resumed_at=T0)
    first = await judge(opts, pings, T0)
    assert first.message == "waiting for the first ping, due by 2024-06-03T13:05:00Z"
    late = await judge(opts, pings, T0 + dt.timedelta(hours=2))
    assert late.message == "no ping yet; one was due by 2024-06-03T13:05:00Z"


async def test_a_failure_is_down_until_the_next_success() -> None:
    opts = options(period="1h")
    failed = state(last_success=T0, last_failure=T0 + dt.timedelta(minutes=1))
    result = await judge(opts, failed, T0 + dt.timedelta(minutes=3))
    assert result.status is CheckStatus.DOWN
    assert result.message == "the last ping, 2m ago, reported a failure"
    recovered = state(last_success=T0 + dt.timedelta(minutes=2), last_failure=T0)
    assert (await judge(opts, recovered, T0 + dt.timedelta(minutes=3))).status is CheckStatus.UP


async def test_max_runtime() -> None:
    opts = options(period="1h", max_runtime="10m")
    started = state(last_success=T0, last_start=T0 + dt.timedelta(minutes=1))
    assert (await judge(opts, started, T0 + dt.timedelta(minutes=11))).status is CheckStatus.UP
    over = await judge(opts, started, T0 + dt.timedelta(minutes=12))
    assert over.message == "a run started 11m ago and has not finished (max_runtime 10m)"
    # Without max_runtime a start waits for its success for as long as the deadline lets it.
    assert (await judge(options(period="1h"), started, T0 + dt.timedelta(minutes=30))).status is (
        CheckStatus.UP
    )


async def test_cron_in_a_time_zone() -> None:
    opts = options(schedule="0 3 * * *", tz="Europe/Berlin", grace="30m")
    # Ran at 03:02 Berlin (01:02 UTC, summer): tomorrow's 03:00 is due by 01:30 UTC.
    pings = state(last_success=utc(2024, 6, 3, 1, 2))
    assert (await judge(opts, pings, utc(2024, 6, 4, 1, 30))).status is CheckStatus.UP
    late = await judge(opts, pings, utc(2024, 6, 4, 1, 31))
    assert late.message.endswith("one was due by 2024-06-04T01:30:00Z")
    # A ping a little early (the job's clock runs ahead) still counts for its run.
    early = state(last_success=utc(2024, 6, 3, 0, 59, 30))
    assert (await judge(opts, early, utc(2024, 6, 3, 2))).status is CheckStatus.UP
    # UTC when tz is not given.
    plain = options(schedule="@daily")
    assert (
        await judge(plain, state(last_success=utc(2024, 6, 3, 0, 1)), utc(2024, 6, 4, 0, 5))
    ).status is (CheckStatus.UP)
    assert (
        await judge(plain, state(last_success=utc(2024, 6, 3, 0, 1)), utc(2024, 6, 4, 0, 6))
    ).status is (CheckStatus.DOWN)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Clocks go forward on 2024-03-31 in Berlin: 02:30 does not exist; cron runs it
        # when the clocks jump (03:00 CEST, 01:00 UTC).
        ("30 2 * * *", utc(2024, 3, 30, 12), [utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)]),
        # Clocks go back on 2024-10-27: 02:30 happens twice, and is expected once.
        ("30 2 * * *", utc(2024, 10, 26, 12), [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]),
        ("0 3 * * 0", utc(2024, 6, 5), [utc(2024, 6, 9, 1), utc(2024, 6, 16, 1)]),
        # Day of month and day of week: either, unless one starts with "*" (as in cron).
        ("0 0 13 * 5", utc(2024, 9, 1), [utc(2024, 9, 5, 22), utc(2024, 9, 12, 22)]),
        ("0 0 */2 * 5", utc(2024, 9, 1), [utc(2024, 9, 12, 22), utc(2024, 9, 26, 22)]),
    ],
)
def test_cron_runs_as_the_system_cron_runs_them(
    expression: str, after: dt.datetime, expected: list[dt.datetime]
) -> None:
    found, moment = [], after
    for _ in expected:
        moment = next_run(expression, BERLIN, moment)
        found.append(moment)
    assert found == expected


# -- a restart ----------------------------------------------------------------------------


async def test_a_restart_is_not_held_against_the_monitor() -> None:
    opts = options(period="1h", grace="5m")
    # Last success 12:00; uplight was down 12:50-13:10, over the 13:00 ping.
    lost = state(
        last_success=T0,
        offline_since=T0 + dt.timedelta(minutes=50),
        resumed_at=T0 + dt.timedelta(minutes=70),
    )
    result = await judge(opts, lost, T0 + dt.timedelta(minutes=71))
    assert result.status is CheckStatus.UP
    assert result.details["deadline"] == "2024-06-03T14:15:00Z"  # 13:10 + 1h + 5m
    # Down 12:10-12:20: nothing was due then, the deadline stays 13:05.
    short = state(
        last_success=T0,
        offline_since=T0 + dt.timedelta(minutes=10),
        resumed_at=T0 + dt.timedelta(minutes=20),
    )
    assert (await judge(opts, short, T0 + dt.timedelta(minutes=21))).details["deadline"] == (
        "2024-06-03T13:05:00Z"
    )
    # Already overdue before uplight went down (13:05 < 13:30): down, as it was.
    overdue = state(
        last_success=T0,
        offline_since=T0 + dt.timedelta(minutes=90),
        resumed_at=T0 + dt.timedelta(minutes=100),
    )
    assert (await judge(opts, overdue, T0 + dt.timedelta(minutes=101))).status is CheckStatus.DOWN
    # A start whose end may have been pinged while uplight was down is not an overrun.
    started = state(
        last_success=T0,
        last_start=T0 + dt.timedelta(minutes=1),
        offline_since=T0 + dt.timedelta(minutes=5),
        resumed_at=T0 + dt.timedelta(minutes=30),
    )
    runtime = options(period="1h", max_runtime="10m")
    assert (await judge(runtime, started, T0 + dt.timedelta(minutes=31))).status is CheckStatus.UP


async def test_no_ping_state_is_down_not_up() -> None:
    result = await CHECK.check(options(period="1h"), CheckContext("job", 10.0, now=T0))
    assert result.status is CheckStatus.DOWN


def test_two_monitors_with_one_token_is_a_config_error(make_config: MakeConfig) -> None:
    text = _monitor(token=TOKEN, period="1h") + _monitor(token=TOKEN, period="1d").replace(
        'id = "job"', 'id = "other"'
    )
    with pytest.raises(ConfigError) as info:
        make_config(text)
    assert [str(issue) for issue in info.value.issues] == [
        "monitors[1]: has the same ping token as monitors[0] ('job'): give each monitor its own"
    ]
