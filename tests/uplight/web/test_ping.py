"""Push monitors through the real app: a cron-like driver pings /ping/<token> while a
FakeClock drives the deadlines.

The driver does what a crontab line with curl does (``/start``, then a success, an
exit code or ``/fail``, a POST body with the job's output); the scheduler judges the
silence on the same clock. Nothing sleeps: time moves when the test moves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import run_for, settle

from uplight.auth.tokens import create_token
from uplight.clock import FakeClock
from uplight.config import parse_config
from uplight.models import CheckStatus
from uplight.plugins import load_plugins
from uplight.runtime import Runtime
from uplight.web import create_app

TOKEN = "backup-token-CANARY-5e1b7c0d9a"
NIGHTLY = "nightly-token-CANARY-77ab30c2f1"
T0 = dt.datetime(2024, 6, 3, 12, 0, tzinfo=dt.UTC)  # a Monday, noon

CONFIG = f"""
[public.rate_limit]
requests_per_minute = 60
burst = 50

[[monitors]]
id = "backup"
name = "Backup"
type = "push"
token = "{TOKEN}"
period = "1h"
grace = "5m"
max_runtime = "20m"
interval = "1m"
failure_threshold = 1

[[monitors]]
id = "nightly"
name = "Nightly export"
type = "push"
token = {{ env = "UPLIGHT_TEST_NIGHTLY_TOKEN" }}
schedule = "0 3 * * *"
tz = "Europe/Berlin"
grace = "30m"
interval = "1m"

[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "backup"
public_name = "Backups"
[[pages.components]]
monitor = "nightly"
"""


@dataclasses.dataclass
class Uplight:
    runtime: Runtime
    client: Any
    clock: FakeClock

    async def ping(
        self,
        path: str,
        method: str = "GET",
        data: bytes | None = None,
        client: str = "198.51.100.7",
    ) -> Any:
        """One curl from the job's host."""
        return await self.client.open(
            path, method=method, data=data, scope_base={"client": (client, 40000)}
        )

    def last(self, monitor_id: str) -> Any:
        record = self.runtime.scheduler.states[monitor_id].last
        assert record is not None, f"{monitor_id} has no result"
        return record

    async def judge(self, monitor_id: str) -> Any:
        """The scheduler's check of the monitor, now (as its loop would run it)."""
        record = await self.runtime.scheduler.run_once(monitor_id)
        assert record is not None
        return record.result


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UPLIGHT_TEST_NIGHTLY_TOKEN", NIGHTLY)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


@asynccontextmanager
async def uplight(
    config_path: Path, clock: FakeClock, *, scheduler: bool = False, text: str | None = None
) -> AsyncIterator[Uplight]:
    registry = load_plugins(builtins_only=True)
    config = parse_config(
        text or CONFIG,
        registry.check_types,
        source=config_path,
        notifier_types=registry.notifiers,
    )
    runtime = Runtime(config, registry, clock=clock)
    app = create_app(config, registry, runtime=runtime)
    async with app.test_app() as test_app:
        if not scheduler:
            await runtime.scheduler.stop()
        yield Uplight(runtime, test_app.test_client(), clock)


async def test_success_start_fail_and_exit_codes(config_path: Path) -> None:
    clock = FakeClock(T0)
    async with uplight(config_path, clock) as up:
        response = await up.ping(f"/ping/{TOKEN}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.get_data() == b"OK\n"
        first = up.last("backup")
        assert first.result.status is CheckStatus.UP and first.checked_at == T0
        assert first.result.latency is None

        # /start, then the success 3m12s later: the run's duration is the latency.
        assert (await up.ping(f"/ping/{TOKEN}/start")).status_code == 200
        assert up.last("backup") is first  # a start records nothing
        clock.advance(minutes=3, seconds=12)
        await up.ping(f"/ping/{TOKEN}")
        timed = up.last("backup").result
        assert timed.status is CheckStatus.UP and timed.latency == 192.0
        assert "3m12s" in timed.message

        assert (await up.ping(f"/ping/{TOKEN}/fail")).status_code == 200
        failed = up.last("backup").result
        assert failed.status is CheckStatus.DOWN and failed.details == {"ping": "fail"}
        # The incident engine saw it like any check result (threshold 1).
        assert up.runtime.monitor_tracker("backup").active_incident is not None

        await up.ping(f"/ping/{TOKEN}/0")
        assert up.last("backup").result.status is CheckStatus.UP
        assert up.last("backup").result.details == {"ping": "success", "exit_code": 0}
        assert up.runtime.monitor_tracker("backup").active_incident is None

        for code in (1, 2, 255):
            response = await up.ping(f"/ping/{TOKEN}/{code}", method="POST", data=b"")
            assert response.status_code == 200
            result = up.last("backup").result
            assert result.status is CheckStatus.DOWN
            assert (result.message, result.details["exit_code"]) == (f"exit code {code}", code)

        # HEAD is a success too, with no body.
        head = await up.ping(f"/ping/{TOKEN}", method="HEAD")
        assert head.status_code == 200 and await head.get_data() == b""
        assert up.last("backup").result.status is CheckStatus.UP


async def test_a_post_body_is_the_message_and_is_bounded(config_path: Path) -> None:
    async with uplight(config_path, FakeClock(T0)) as up:
        await up.ping(f"/ping/{TOKEN}/fail", method="POST", data=b"rsync: connection refused\n")
        assert up.last("backup").result.message == "rsync: connection refused"

        # Invalid UTF-8 is replaced, not refused: the ping still counts.
        await up.ping(f"/ping/{TOKEN}", method="POST", data=b"done \xff\xfe ok")
        assert up.last("backup").result.message == "done \ufffd\ufffd ok"

        # 200 KB of log: the first 10 KB are read; the message keeps its start, bounded
        # like every result's message.
        log_text = b"".join(b"line %05d\n" % n for n in range(20_000))
        response = await up.ping(f"/ping/{TOKEN}/1", method="POST", data=log_text)
        assert response.status_code == 200
        message = up.last("backup").result.message
        assert message.startswith("line 00000\nline 00001\n")
        assert len(message) <= 2000

    # What on_ping receives: at most 10 KB.
    seen: list[str] = []
    push = load_plugins(builtins_only=True).check_types["push"]
    original = type(push).on_ping

    def spy(self: Any, options: Any, ping: Any, context: Any) -> Any:
        seen.append(ping.body)
        return original(self, options, ping, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(push), "on_ping", spy)
        async with uplight(config_path, FakeClock(T0)) as up:
            await up.ping(f"/ping/{TOKEN}", method="POST", data=log_text)
            await up.ping(f"/ping/{TOKEN}", method="POST", data="é".encode() * 6000)
    assert len(seen[0].encode()) == 10 * 1024
    assert seen[0] == log_text[: 10 * 1024].decode()
    assert len(seen[1]) == 5 * 1024  # 2-byte characters: 5120 of them in 10 KB


async def test_an_unknown_token_is_the_plain_404_of_any_unknown_path(config_path: Path) -> None:
    async with uplight(config_path, FakeClock(T0)) as up:
        reference = await up.ping("/no/such/route")
        expected = (reference.status_code, await reference.get_data())
        assert expected[0] == 404
        for path in (
            "/ping/not-a-token-of-anyone-at-all",
            f"/ping/{TOKEN[:-1]}",  # all but one character right
            f"/ping/{TOKEN}x",
            "/ping/short",
            f"/ping/{TOKEN}/256",  # a known token, an unknown action
            f"/ping/{TOKEN}/-1",
            f"/ping/{TOKEN}/007",
            f"/ping/{TOKEN}/stop",
            "/ping/not-a-token-of-anyone-at-all/start",
        ):
            for method in ("GET", "POST"):
                response = await up.ping(path, method=method)
                answer = (response.status_code, await response.get_data())
                assert answer == expected, path
                assert response.headers["Content-Type"] == reference.headers["Content-Type"]
                assert TOKEN not in str(response.headers)
        assert up.runtime.scheduler.states["backup"].last is None


async def test_rate_limited_per_client_and_per_monitor(config_path: Path) -> None:
    async with uplight(config_path, FakeClock(T0)) as up:
        # One client: its budget (burst 50) covers known and unknown tokens alike.
        answers = [(await up.ping("/ping/guessing-guessing-guessing-1")).status_code]
        answers += [(await up.ping(f"/ping/{TOKEN}")).status_code for _ in range(60)]
        assert answers.count(429) == 11 and answers[0] == 404
        limited = await up.ping(f"/ping/{TOKEN}")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await limited.get_json())["error"]["code"] == "RATE_LIMITED"

        # Another client pinging the same monitor: its own budget is whole, but the
        # monitor's (the same size) was spent by the first client's 49 pings.
        other = [(await up.ping(f"/ping/{TOKEN}", client="203.0.113.9")).status_code]
        assert other == [200]
        assert (await up.ping(f"/ping/{TOKEN}", client="203.0.113.9")).status_code == 429
        # ... while another monitor's pings from that client go through.
        assert (await up.ping(f"/ping/{NIGHTLY}", client="203.0.113.9")).status_code == 200


async def test_the_silence_is_judged_on_the_clock(config_path: Path) -> None:
    """No request arrives to say the job is late: the scheduler's own checks do."""
    clock = FakeClock(T0)
    text = CONFIG.replace('period = "1h"', 'period = "3m"').replace('grace = "5m"', 'grace = "1m"')
    async with uplight(config_path, clock, scheduler=True, text=text) as up:
        await up.ping(f"/ping/{TOKEN}")
        await run_for(clock, 3 * 60)  # within period + grace: still up
        assert up.last("backup").result.status is CheckStatus.UP
        assert "the next is due by 2024-06-03T12:04:00Z" in up.last("backup").result.message
        await run_for(clock, 2 * 60)  # 12:05: past 12:04, and nobody pinged
        down = up.last("backup")
        assert down.result.status is CheckStatus.DOWN and down.error_reason is None
        # The monitor's phase in its minute decides when, between 12:04 and 12:05.
        assert down.checked_at > T0 + dt.timedelta(minutes=4)
        assert down.result.message.startswith("no ping for 4m")
        assert down.result.message.endswith("; one was due by 2024-06-03T12:04:00Z")
        assert up.runtime.monitor_tracker("backup").active_incident is not None
        await up.ping(f"/ping/{TOKEN}")  # back up at the next success
        assert up.last("backup").result.status is CheckStatus.UP
        await run_for(clock, 60)
        assert up.last("backup").result.status is CheckStatus.UP
        assert up.runtime.monitor_tracker("backup").active_incident is None


async def test_a_cron_schedule_in_its_time_zone(config_path: Path) -> None:
    # 03:00 in Berlin is 01:00 UTC in summer; grace 30 minutes.
    clock = FakeClock(dt.datetime(2024, 6, 3, 0, 30, tzinfo=dt.UTC))
    async with uplight(config_path, clock) as up:
        waiting = await up.judge("nightly")
        assert waiting.status is CheckStatus.UP
        assert waiting.message == "waiting for the first ping, due by 2024-06-03T01:30:00Z"
        clock.advance(minutes=45)  # 01:15 UTC: the job runs and pings
        await up.ping(f"/ping/{NIGHTLY}/start")
        clock.advance(minutes=4)
        await up.ping(f"/ping/{NIGHTLY}/0")
        assert up.last("nightly").result.latency == 240.0
        clock.advance(hours=23)  # 00:19 the next day: tomorrow's run is not due yet
        assert (await up.judge("nightly")).status is CheckStatus.UP
        clock.set(dt.datetime(2024, 6, 4, 1, 29, tzinfo=dt.UTC))
        assert (await up.judge("nightly")).status is CheckStatus.UP
        clock.set(dt.datetime(2024, 6, 4, 1, 31, tzinfo=dt.UTC))
        late = await up.judge("nightly")
        assert late.status is CheckStatus.DOWN
        assert late.message.endswith("one was due by 2024-06-04T01:30:00Z")
        # In winter the same 03:00 is 02:00 UTC.
        clock.set(dt.datetime(2024, 12, 2, 2, 10, tzinfo=dt.UTC))
        await up.ping(f"/ping/{NIGHTLY}")
        result = await up.judge("nightly")
        assert result.message.endswith("the next is due by 2024-12-03T02:30:00Z")


async def test_a_run_past_max_runtime_is_a_failure(config_path: Path) -> None:
    clock = FakeClock(T0)
    async with uplight(config_path, clock) as up:
        await up.ping(f"/ping/{TOKEN}")
        await up.ping(f"/ping/{TOKEN}/start")
        clock.advance(minutes=20)
        assert (await up.judge("backup")).status is CheckStatus.UP  # at max_runtime
        clock.advance(seconds=1)
        overrun = await up.judge("backup")
        assert overrun.status is CheckStatus.DOWN
        assert overrun.message == "a run started 20m01s ago and has not finished (max_runtime 20m)"
        clock.advance(minutes=5)
        await up.ping(f"/ping/{TOKEN}")  # it finished after all: up, 25 minutes long
        assert up.last("backup").result.latency == 1501.0
        assert (await up.judge("backup")).status is CheckStatus.UP


async def test_a_restart_does_not_count_its_own_downtime(config_path: Path) -> None:
    clock = FakeClock(T0)
    async with uplight(config_path, clock) as up:
        await up.ping(f"/ping/{TOKEN}")  # 12:00; the next is due by 13:05
        clock.advance(minutes=30)
        assert (await up.judge("backup")).status is CheckStatus.UP  # 12:30, last seen alive
    # uplight is down from 12:30 to 13:20: the job's 13:00 ping was lost.
    clock.advance(minutes=50)
    async with uplight(config_path, clock) as up:
        state = up.runtime.pings.state("backup")
        assert state is not None
        assert state.last_success == T0  # kept in the database
        assert state.offline_since == T0 + dt.timedelta(minutes=30)
        assert state.resumed_at == T0 + dt.timedelta(minutes=80)
        resumed = await up.judge("backup")
        assert resumed.status is CheckStatus.UP
        # The deadline restarts from start-up: 13:20 + 1h + 5m.
        assert resumed.message.endswith("the next is due by 2024-06-03T14:25:00Z")
        clock.advance(minutes=65, seconds=1)
        assert (await up.judge("backup")).status is CheckStatus.DOWN

    # A short restart that no expected ping falls in changes nothing.
    clock.advance(minutes=1)
    async with uplight(config_path, clock) as up:
        await up.ping(f"/ping/{TOKEN}")  # 14:26:01
        clock.advance(minutes=10)
        await up.judge("backup")
    clock.advance(minutes=1)
    async with uplight(config_path, clock) as up:
        result = await up.judge("backup")
        assert result.message.endswith("the next is due by 2024-06-03T15:31:01Z")


async def test_the_token_never_leaves_the_ping_url(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(T0)
    async with uplight(config_path, clock) as up:
        await up.ping(f"/ping/{TOKEN}/start")
        await up.ping(f"/ping/{TOKEN}/fail", method="POST", data=b"it broke")
        await up.ping(f"/ping/{NIGHTLY}")
        await up.ping("/ping/guessing-guessing-guessing-2")
        await up.judge("backup")
        await up.runtime.store.flush()
        up.runtime.page_cache.invalidate()
        api_token = await create_token(up.runtime.store, "tester")
        auth = {"Authorization": f"Bearer {api_token}"}
        seen = []
        for path, headers in (
            ("/status", {}),
            ("/status/fragment", {}),
            ("/api/public/v1/status.json", {}),
            ("/api/public/v1/badge.svg", {}),
            ("/api/public/v1/incidents.rss", {}),
            ("/metrics", {}),
            ("/healthz", {}),
            ("/api/v1/health/dashboard", auth),
            ("/api/v1/incidents", auth),
        ):
            response = await up.client.get(path, headers=headers)
            assert response.status_code == 200, path
            seen.append(f"{path} {response.headers} {(await response.get_data()).decode()}")
        await settle()
    text = "\n".join([*seen, caplog.text, *(repr(r.args) for r in caplog.records)])
    for token in (TOKEN, NIGHTLY, "CANARY"):
        assert token not in text
    assert "uplight_checks_total" in text  # /metrics was read
