"""Notifications as the runtime holds them: router, reminders, certificates, worker, stats.

The runtime registers ``on_transition`` with the incident engine, ``on_update``
and ``on_narration`` with the incident service (timeline updates, severity
changes) and ``observe`` with the scheduler (certificate warnings, and the
latest failure a reminder names); each queues outbox rows inside the
transaction of its event and wakes the worker.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import aiosqlite

from ..clock import Clock
from ..config import Config, MonitorConfig
from ..db.store import Store
from ..incidents.engine import IncidentEvent
from ..incidents.models import Incident, IncidentUpdate
from ..models import ResultRecord
from ..plugins import PluginRegistry
from . import store as outbox
from .certs import CertificateWatch
from .channels import ChannelView, DeadPage, SendResult, channel_views, dead_page, send_test
from .reminders import ReminderPlanner
from .router import Router
from .stats import NotificationStats
from .worker import SEND_TIMEOUT, DeliveryWorker


class Notifications:
    def __init__(
        self,
        config: Config,
        registry: PluginRegistry,
        store: Store,
        *,
        clock: Clock,
        in_maintenance: Callable[[str], bool],
        is_public: Callable[[str], bool] = lambda monitor_id: True,
        send_timeout: float = SEND_TIMEOUT,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store
        self.notifier_types = registry.notifiers
        self.send_timeout = send_timeout
        self.stats = NotificationStats(n.id for n in config.notifiers)
        # is_public: is the monitor on a page? Only then does a message link a permalink.
        self.router = Router(
            config, in_maintenance=in_maintenance, clock=clock, is_public=is_public
        )
        self.reminders = ReminderPlanner(self.router, store)
        self.certificates = CertificateWatch(self.router, store)
        self.worker = DeliveryWorker(
            config,
            registry.notifiers,
            store,
            self.stats,
            self.reminders,
            clock=clock,
            send_timeout=send_timeout,
            rng=rng,
            # Several servers may share a PostgreSQL outbox (a lead passing between
            # them): each send claims its row first. One SQLite server needs no claim.
            claims=store.url is not None,
        )
        self.router.on_queued = self.worker.wake

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    # -- what the operator sees and does (the console) --------------------------------

    async def channels(self) -> list[ChannelView]:
        """Every channel's queue depth, dead count, last success and last failure."""
        await self.worker.refresh()  # the outbox as it is now, not as of the last pass
        return channel_views(self.config, self.stats)

    async def dead_messages(
        self, channel: str, *, before: int | None = None, limit: int = 25
    ) -> DeadPage:
        """A channel's dead messages, newest first, ``limit`` at a time below ``before``."""
        rows = await outbox.dead_rows(self.store, channel, before=before, limit=limit + 1)
        settings = self.config.notifier(channel)
        return dead_page(rows, limit, settings.options if settings else None)

    async def send_test(self, channel: str) -> SendResult | None:
        """What ``uplight notify test`` does, from the running server; None for an
        unknown channel."""
        settings = self.config.notifier(channel)
        if settings is None:
            return None
        return await send_test(
            settings, self.notifier_types, self.clock.now(), timeout=self.send_timeout
        )

    async def on_transition(self, db: aiosqlite.Connection, event: IncidentEvent) -> None:
        await self.router.on_transition(db, event)

    async def on_update(
        self, db: aiosqlite.Connection, incident: Incident, update: IncidentUpdate
    ) -> None:
        await self.router.on_update(db, incident, update)

    async def on_narration(
        self, db: aiosqlite.Connection, before: Incident, after: Incident
    ) -> None:
        await self.router.on_narration(db, before, after)

    async def observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        self.router.note_result(monitor, record)  # a reminder says the latest reason
        await self.certificates.observe(monitor, record)
