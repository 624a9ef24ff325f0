"""The running service: store, scheduler and page service built from one config."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import time

from .clock import Clock, SystemClock
from .config import Config, MonitorConfig
from .incidents.engine import IncidentEngine, MonitorTracker
from .incidents.service import IncidentService
from .leadership.election import Election, Leadership, SoleServer
from .maintenance.service import MaintenanceService
from .models import ResultRecord
from .monitoring.pings import PingService
from .monitoring.scheduler import Scheduler
from .monitoring.service import MonitorService, OpenIncident
from .monitoring.states import MonitorStates, Rechecks
from .monitoring.stats import CheckStats
from .monitoring.store import HOURLY_ROLLUPS_KEPT, prune_results
from .notify.service import Notifications
from .pages.cache import PageCache
from .pages.editing import PageEditor
from .pages.provisioning import provision_pages
from .pages.service import PageService
from .plugins import PluginRegistry
from .probes.service import ProbeService
from .schema import build_store

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0


class Runtime:
    def __init__(
        self,
        config: Config,
        registry: PluginRegistry,
        *,
        flush_interval: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.registry = registry
        self.store = build_store(config.database_location, flush_interval=flush_interval)
        self.maintenance = MaintenanceService(self.store, config, self.clock)
        # Heartbeats (push monitors): the state a check judges comes from here, and a
        # ping's result goes through the scheduler's listeners like a check's.
        self.pings = PingService(
            self.store, config.monitors, registry.check_types, clock=self.clock
        )
        # Every monitor's current state: what a group's check judges, what a manual
        # monitor was set to, and maintenance (a window's, or derived: a group's members').
        self.states = MonitorStates(
            self.store, config.monitors, registry.check_types, windows=self.maintenance.is_active
        )
        location = config.server.location
        self.scheduler = Scheduler(
            config.monitors,
            registry.check_types,
            # A joined monitor's results are the join's (probes/join.py), not a check's.
            unscheduled=[m.id for m in config.monitors if m.joined(location)],
            max_concurrency=config.scheduler.max_concurrency,
            max_jitter=config.scheduler.max_jitter,
            listeners=[self._record_result],
            in_maintenance=self.states.in_maintenance,
            clock=self.clock,
            isolate=config.scheduler.isolate,
            ping_state=self.pings.state,
            referenced_states=self.states.referenced_states,
            operator_state=self.states.operator_state,
            awaiting_references=self.states.awaiting_references,
        )
        self.scheduler.add_listener(self.states.observe)
        # A group is checked again as soon as a member's state changes.
        self.rechecks = Rechecks(self.scheduler.run_once)
        self.states.recheck = self.rechecks.request
        self.pings.record = self.scheduler.record
        # Cumulative check statistics for /metrics, fed by every result.
        self.check_stats = CheckStats()
        self.scheduler.add_listener(self.check_stats.observe)
        # After the store's listener, so a transition's write flushes the result first.
        # Every monitor's thresholds open incidents; a page decides only what is public.
        self.incidents = IncidentEngine(self.store, config.monitors, clock=self.clock)
        self.scheduler.add_listener(self.incidents.observe)
        # Notifications: outbox rows are written inside each event's own transaction.
        self.notifications = Notifications(
            config,
            registry,
            self.store,
            clock=self.clock,
            in_maintenance=self.states.in_maintenance,
            is_public=self._is_on_a_page,
        )
        self.incidents.transition_listeners.append(self.notifications.on_transition)
        self.scheduler.add_listener(self.notifications.observe)  # certificate warnings
        # Probes (docs/probes.md): each location's results joined into the monitor's.
        self.probes = ProbeService(
            self.store,
            config.monitors,
            location,
            clock=self.clock,
            publish=self.scheduler.record,
        )
        # The server's own checks of joined monitors that name its location: a vote.
        self.local_leg = Scheduler(
            [m for m in config.monitors if m.joined(location) and location in (m.locations or ())],
            registry.check_types,
            max_concurrency=config.scheduler.max_concurrency,
            max_jitter=config.scheduler.max_jitter,
            listeners=[self.probes.record_local],
            clock=self.clock,
            isolate=config.scheduler.isolate,
        )
        # The operator's narration and timeline updates queue their notifications
        # inside their own transaction; so do manual incidents opened and resolved.
        self.incident_service = IncidentService(
            self.store,
            clock=self.clock,
            on_narration=self.notifications.on_narration,
            on_update=self.notifications.on_update,
            on_manual=self.notifications.router.on_manual,
            monitor_ids=(m.id for m in config.monitors),
            page_monitors=self._page_monitors,
        )
        self.pages = PageService(
            config, self.store, clock=self.clock, in_maintenance=self.states.in_maintenance
        )
        # The admin API's page writes; each reloads the directory of self.pages.
        self.page_editor = PageEditor(config, self.store, self.pages, clock=self.clock)
        # The public routes read snapshots through this: one compute per page per TTL.
        self.page_cache = PageCache(
            self.pages, ttl=config.public.cache_ttl, renderers=registry.renderers
        )
        # The operator's view of the monitors (admin API, CLI) and manual monitors' states.
        self.monitors = MonitorService(
            config,
            registry.check_types,
            self.store,
            self.states,
            clock=self.clock,
            check_now=self.scheduler.run_once,
            pages_by_monitor=self._pages_by_monitor,
            open_incidents=self._open_incidents,
        )
        self.started_at = time.time()
        self._background: list[asyncio.Task[None]] = []
        # Several servers on one PostgreSQL database: one leads (runs the checks, the
        # incident engine, notifications, maintenance and pruning), the others serve
        # the page and the APIs from the shared database (docs/deploy.md, "Several
        # servers"). With SQLite this server is the only one and leads from the start.
        self.leadership: Leadership
        if self.store.url is None:
            self.leadership = SoleServer(self._lead)
        else:
            self.leadership = Election(
                self.store.url,
                poll=config.server.leader_poll,
                on_elected=self._lead,
                on_deposed=self._follow,
            )
        self._leading_work: list[asyncio.Task[None]] = []  # the leader's own tasks

    @property
    def leading(self) -> bool:
        """Whether this server runs the checks, incidents and notifications now."""
        return self.leadership.leading

    async def start(self) -> None:
        await self.store.open()
        # Config pages reach the database before anything serves or checks.
        await provision_pages(self.store, self.config, self.clock.now())
        await self.pages.refresh()
        if self.leadership.shared:
            # What a follower serves from memory: the monitors' states and the live
            # maintenance windows, refreshed from the database while it follows.
            await self.states.start()
            await self.maintenance.load_live()
            self._background.append(
                asyncio.create_task(self._follower_refresh(), name="uplight-follower-refresh")
            )
        # SQLite: leads now. PostgreSQL: one attempt now, then one every leader_poll.
        await self.leadership.start()
        # Everything built and loaded lives as long as the process (config, plugins,
        # imported modules): frozen, it leaves the GC's generations, so a full
        # collection no longer walks it all and stalls the checks due meanwhile.
        gc.freeze()
        log.info(
            "uplight started: %d monitors, %d pages, database %s%s",
            len(self.config.monitors),
            len(self.config.pages),
            self.store.where,
            "" if not self.leadership.shared else (" (leads)" if self.leading else " (follows)"),
        )

    async def _lead(self) -> None:
        """Start the leader's work: at start with SQLite, on winning the lock with
        PostgreSQL (where another server may have led until just now)."""
        shared = self.leadership.shared
        await self.incidents.load()  # before any result: a restart must not open a duplicate
        await self.maintenance.start()  # before any check: results are flagged from the first
        await self.notifications.start()  # pending deliveries resume
        await self.pings.start()  # before any check: a push check judges what it loads
        if shared:
            await self.states.load()  # as the previous leader left them
        else:
            await self.states.start()  # before any check: a group judges its members' states
        await self.probes.start()  # before any result: the fresh votes of each location
        self.scheduler.start()
        self.local_leg.start()
        self._leading_work.append(asyncio.create_task(self._prune_loop(), name="uplight-prune"))

    async def _follow(self) -> None:
        """Fencing: this server may no longer hold the lead, so its leading work stops
        now, before another server's starts; it serves on as a follower."""
        await self._stop_leading()
        # A follower serves the states as the database has them from now on.
        self.rechecks = Rechecks(self.scheduler.run_once)
        self.states.recheck = self.rechecks.request

    async def _stop_leading(self) -> None:
        # Notifications first: an interrupted send stays pending (its claim expires)
        # and the next leader sends it with the same idempotency key.
        await self.notifications.stop()
        await self.rechecks.stop()
        await self.local_leg.stop()
        await self.scheduler.stop()
        await self.maintenance.stop()
        await _cancel(self._leading_work)

    async def _follower_refresh(self) -> None:
        """While following: what the leader changed in the database reaches this
        server's memory (the page directory, the live maintenance windows) within a
        poll. The page cache recomputes snapshots from the database by itself."""
        poll = self.config.server.leader_poll
        while True:
            await asyncio.sleep(poll)
            if self.leading:
                continue
            try:
                await self.pages.refresh()
                await self.maintenance.load_live()
                await self.states.load()
            except Exception:
                log.exception("refreshing a follower's view of the database failed")

    async def stop(self) -> None:
        """Cancel in-flight checks, flush pending results, close the database."""
        if self.leading:
            await self._stop_leading()
        # The lock goes only now, with the leading work stopped: the next leader's
        # start never overlaps it.
        await self.leadership.stop()
        await self.states.stop()  # the last status changes are written
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.store.close()
        log.info("uplight stopped")

    def monitor_tracker(self, monitor_id: str) -> MonitorTracker:
        """The incident engine's view of a monitor (consecutive failures, active incident)."""
        return self.incidents.tracker(monitor_id)

    def _is_on_a_page(self, monitor_id: str) -> bool:
        """An automatic incident is public (has a permalink) only when its monitor is on a
        page (config and API pages alike); otherwise only the operator sees it."""
        return self.pages.is_on_a_page(monitor_id)

    def _pages_by_monitor(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for page in self.pages.pages():
            for component in page.components:
                found.setdefault(component.monitor_id, []).append(page.slug)
        return found

    async def _open_incidents(self) -> dict[str, OpenIncident]:
        """Each monitor's active automatic incident (manual ones concern no one monitor)."""
        found: dict[str, OpenIncident] = {}
        after = None
        while True:
            page = await self.incident_service.list_incidents(active=True, after=after, limit=200)
            for incident in page.items:
                if not incident.manual:
                    found.setdefault(
                        incident.monitor_id,
                        OpenIncident(incident.id, incident.severity, incident.started_at),
                    )
            if page.next is None:
                return found
            after = page.next

    def _page_monitors(self, slug: str) -> frozenset[str] | None:
        """The configured monitors a page shows (what a manual incident on it may name)."""
        page = self.pages.page(slug)
        if page is None:
            return None
        return frozenset(c.monitor_id for c in page.components if self.config.monitor(c.monitor_id))

    def _record_result(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        self.store.add_result(record)

    async def _prune_loop(self) -> None:
        await asyncio.sleep(60)  # not at start-up: let the first checks land first
        while True:
            try:
                retention = dt.timedelta(days=self.config.storage.retention_days)
                now = self.clock.now()
                cutoff = now - retention
                hourly = now - max(retention, HOURLY_ROLLUPS_KEPT)
                deleted = await prune_results(self.store, cutoff, hourly_before=hourly)
                deleted += await self.probes.prune(cutoff)
                if deleted:
                    log.info("pruned %d results older than %s", deleted, cutoff.isoformat())
                # In short steps, so checks and API writes are not held up behind it.
                await self.store.reclaim_space()
            except Exception:
                log.exception("pruning old results failed")
            await asyncio.sleep(PRUNE_EVERY)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()
