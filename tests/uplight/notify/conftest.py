"""A fake channel plugin and a harness: real SQLite, the real engine, a fake clock.

The ``fake`` channel records what it is sent and can be told to fail or hang;
tests drive the worker pass by pass (``env.deliver()``), so no test waits for
a real backoff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from uplight import Notification, Notifier, NotifierOptions, Secret, hookimpl
from uplight.clock import FakeClock
from uplight.config import Config, parse_config
from uplight.db.store import Store
from uplight.incidents.engine import IncidentEngine
from uplight.incidents.service import IncidentService
from uplight.models import CheckResult, ResultRecord
from uplight.notify import store as outbox
from uplight.notify.service import Notifications
from uplight.notify.store import OutboxRow
from uplight.plugins import PluginRegistry, load_plugins
from uplight.schema import build_store

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

MONITORS = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 1
recovery_threshold = 1
[[monitors]]
id = "db"
name = "DB"
type = "http"
url = "http://127.0.0.1:9/"
failure_threshold = 1
recovery_threshold = 1
"""


@dataclass
class Inbox:
    """What the fake channel got, and how it should behave next."""

    sent: list[tuple[str, Notification]] = field(default_factory=list)  # (label, message)
    attempts: int = 0
    fail: int = 0  # fail this many attempts from now on
    error: str = "receiver said no"
    hang: int = 0  # this many sends from now on never answer
    down: bool = False  # fail until set back to False

    def events(self, label: str | None = None) -> list[str]:
        return [m.event for lab, m in self.sent if label is None or lab == label]


class FakeOptions(NotifierOptions):
    label: str = ""
    token: Secret | None = None


class FakeNotifier(Notifier):
    name = "fake"
    Options = FakeOptions
    inbox: ClassVar[Inbox] = Inbox()

    async def send(self, options: FakeOptions, message: Notification) -> None:
        inbox = FakeNotifier.inbox
        inbox.attempts += 1
        if inbox.hang > 0:
            inbox.hang -= 1
            await asyncio.sleep(3600)
        if inbox.down or inbox.fail > 0:
            inbox.fail = max(0, inbox.fail - 1)
            token = options.token.get_secret_value() if options.token else ""
            raise ConnectionError(f"{inbox.error} (token {token})")
        inbox.sent.append((options.label, message))


class FakePlugin:
    @hookimpl
    def uplight_notifiers(self, register: Callable[[type], None]) -> None:
        register(FakeNotifier)


@pytest.fixture(scope="session")
def notify_registry() -> PluginRegistry:
    return load_plugins(builtins_only=True, extra=[("fake", FakePlugin())])


@pytest.fixture
def inbox() -> Inbox:
    FakeNotifier.inbox = Inbox()
    return FakeNotifier.inbox


@pytest.fixture
def parse(tmp_path: Path, notify_registry: PluginRegistry) -> Callable[[str], Config]:
    def make(text: str) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(text)
        return parse_config(
            text, notify_registry.check_types, source=path, notifier_types=notify_registry.notifiers
        )

    return make


@dataclass
class Env:
    config: Config
    store: Store
    clock: FakeClock
    service: Notifications
    engine: IncidentEngine
    incidents: IncidentService  # wired to the notifications as the runtime wires it
    inbox: Inbox
    maintenance: set[str]

    async def feed(self, monitor_id: str, *statuses: str, in_maintenance: bool = False) -> None:
        monitor = self.config.monitor(monitor_id)
        assert monitor is not None
        for status in statuses:
            result = {"up": CheckResult.up("ok"), "down": CheckResult.down("refused")}[status]
            record = ResultRecord(monitor_id, self.clock.now(), result, None, in_maintenance)
            await self.engine.observe(monitor, record)

    async def check(self, monitor_id: str, *results: CheckResult) -> None:
        """Results as the scheduler hands them on: to the engine, then to notifications."""
        monitor = self.config.monitor(monitor_id)
        assert monitor is not None
        for result in results:
            record = ResultRecord(monitor_id, self.clock.now(), result)
            await self.engine.observe(monitor, record)
            await self.service.observe(monitor, record)

    async def result(self, monitor_id: str, result: CheckResult) -> None:
        monitor = self.config.monitor(monitor_id)
        assert monitor is not None
        await self.service.observe(monitor, ResultRecord(monitor_id, self.clock.now(), result))

    async def update(
        self, incident_id: int, phase: str = "identified", text: str = "A fix"
    ) -> None:
        await self.incidents.add_update(incident_id, phase=phase, message=text, created_by="tester")

    async def deliver(self) -> dt.datetime | None:
        return await self.service.worker.run_once()

    async def rows(self, channel: str | None = None) -> list[OutboxRow]:
        return await outbox.list_rows(self.store, channel)

    def advance(self, **delta: float) -> dt.datetime:
        return self.clock.advance(**delta)


EnvFactory = Callable[..., AbstractAsyncContextManager[Env]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def make_env(
    db_location: Path | str,
    parse: Callable[[str], Config],
    notify_registry: PluginRegistry,
    inbox: Inbox,
    clock: FakeClock,
) -> EnvFactory:
    """``async with make_env(toml) as env``: the same database and clock on every call,
    so a second call is a restart."""

    @asynccontextmanager
    async def make(
        text: str,
        *,
        monitors: str = MONITORS,
        send_timeout: float = 5.0,
        public: frozenset[str] | None = None,  # monitors on a page; None: every one
    ) -> AsyncIterator[Env]:
        config = parse(monitors + text)
        maintenance: set[str] = set()
        async with build_store(db_location) as store:
            service = Notifications(
                config,
                notify_registry,
                store,
                clock=clock,
                in_maintenance=lambda monitor_id: monitor_id in maintenance,
                is_public=lambda monitor_id: public is None or monitor_id in public,
                send_timeout=send_timeout,
                rng=random.Random(7),  # reproducible jitter
            )
            engine = IncidentEngine(store, config.monitors, clock=clock)
            engine.transition_listeners.append(service.on_transition)
            incidents = IncidentService(
                store,
                clock=clock,
                on_narration=service.on_narration,
                on_update=service.on_update,
            )
            await engine.load()
            await service.worker.load()
            yield Env(config, store, clock, service, engine, incidents, inbox, maintenance)

    return make
