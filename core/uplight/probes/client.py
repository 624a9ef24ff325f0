"""``uplight probe``: the same scheduler and check plugins, for one location's assignment,
with results sent to the server in batches (docs/probes.md).

Three loops: the assignment (polled with its ETag; a new version rebuilds the
scheduler, so the probe follows the server's reloads), the scheduler (each result into
the spool), and the sender (the spool's oldest results, a batch at a time, removed only
once the server answered them). The server unreachable, results wait in the spool.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from ..checks import CheckType
from ..clock import Clock, SystemClock
from ..config import MonitorConfig
from ..durations import format_duration
from ..models import ResultRecord
from ..monitoring.scheduler import Scheduler
from .models import MAX_BATCH, Assignment, BatchAnswer, ProbeResult, ResultBatch
from .spool import Spool

log = logging.getLogger(__name__)

ASSIGNMENT_PATH = "/api/v1/probe/assignment"
RESULTS_PATH = "/api/v1/probe/results"


class ProbeRefused(Exception):
    """The server will not have this probe (a bad token, another location): stop."""


@dataclass(frozen=True)
class ProbeSettings:
    server: str
    token: str
    location: str
    poll_interval: float = 30.0  # between assignment polls
    send_interval: float = 1.0  # between sends while results wait
    retry_interval: float = 5.0  # after the server could not be reached
    batch: int = MAX_BATCH
    max_concurrency: int = 32


class Probe:
    def __init__(
        self,
        settings: ProbeSettings,
        spool: Spool,
        check_types: dict[str, CheckType],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self._check_types = check_types
        self._clock: Clock = clock or SystemClock()
        self._http = httpx.AsyncClient(
            base_url=settings.server.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=10.0,
        )
        self.assignment: Assignment | None = None
        self._scheduler: Scheduler | None = None
        self.sent = 0

    async def run(self) -> None:
        """Check and send until cancelled; ``ProbeRefused`` when the server refuses it."""
        saved = self.spool.assignment()
        if saved is not None and saved.location == self.settings.location:
            log.info(
                "probe: checking the saved assignment %s until the server answers", saved.version
            )
            self._follow(saved)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._poll_loop())
                tasks.create_task(self._send_loop())
        except* ProbeRefused as group:
            raise group.exceptions[0] from None
        finally:
            await self.close()

    async def close(self) -> None:
        if self._scheduler is not None:
            await self._scheduler.stop()
            self._scheduler = None
        await self._http.aclose()

    async def poll(self) -> bool:
        """Read the assignment; True when the server answered."""
        headers = {}
        if self.assignment is not None:
            headers["If-None-Match"] = f'"{self.assignment.version}"'
        try:
            response = await self._http.get(ASSIGNMENT_PATH, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("probe: the server cannot be reached for the assignment: %s", exc)
            return False
        if response.status_code == 304:
            return True
        if response.status_code in (401, 403):
            raise ProbeRefused(_error_text(response))
        if response.status_code != 200:
            log.warning("probe: the assignment answered %d", response.status_code)
            return False
        assignment = Assignment.model_validate(response.json())
        if assignment.location != self.settings.location:
            raise ProbeRefused(
                f"the token is bound to location {assignment.location!r},"
                f" not {self.settings.location!r}"
            )
        if self.assignment is None or assignment.version != self.assignment.version:
            self.spool.save_assignment(assignment)
            self._follow(assignment)
        return True

    async def send(self) -> bool:
        """Send the spool's oldest batch; True when the server answered it."""
        batch = self.spool.oldest(self.settings.batch)
        if not batch:
            return True
        body = ResultBatch(results=batch).model_dump_json()
        try:
            response = await self._http.post(
                RESULTS_PATH, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            log.warning(
                "probe: the server cannot be reached (%s); %d results wait in the spool",
                exc,
                self.spool.pending(),
            )
            return False
        if response.status_code in (401, 403):
            raise ProbeRefused(_error_text(response))
        if response.status_code in (400, 413, 415, 422):
            # The server will never take this batch as it is: sent again it would block
            # every result behind it. Dropped, and counted as the spool's drops are.
            self.spool.discard([r.id for r in batch])
            log.error(
                "probe: the server refused a batch of %d results (%s); they are dropped",
                len(batch),
                _error_text(response),
            )
            return True
        if response.status_code != 200:
            log.warning("probe: sending results answered %d", response.status_code)
            return False
        answer = BatchAnswer.model_validate(response.json())
        for outcome in answer.results:
            if outcome.error is not None:
                log.warning(
                    "probe: result %s refused: %s %s",
                    outcome.id,
                    outcome.error.code,
                    outcome.error.message,
                )
        # Stored or refused for good: either way it leaves the spool.
        self.spool.remove([o.id for o in answer.results])
        self.sent += answer.accepted
        return True

    def _follow(self, assignment: Assignment) -> None:
        monitors = []
        for assigned in assignment.monitors:
            check_type = self._check_types.get(assigned.type)
            if check_type is None:
                log.error(
                    "probe: monitor %s: check type %r is not installed here",
                    assigned.id,
                    assigned.type,
                )
                continue
            try:
                options = check_type.Options.model_validate(assigned.options)
                monitor = MonitorConfig(
                    id=assigned.id,
                    name=assigned.name,
                    type=assigned.type,
                    interval=format_duration(assigned.interval),
                    timeout=format_duration(assigned.timeout),
                )
            except ValidationError as exc:
                log.error("probe: monitor %s does not validate here: %s", assigned.id, exc)
                continue
            monitors.append(monitor.model_copy(update={"options": options}))
        old, self._scheduler = (
            self._scheduler,
            Scheduler(
                monitors,
                self._check_types,
                max_concurrency=self.settings.max_concurrency,
                listeners=[self._spool_result],
                clock=self._clock,
            ),
        )
        if old is not None:
            # Stopped in the background: a reload does not wait for slow checks.
            asyncio.get_running_loop().create_task(old.stop())
        self.assignment = assignment
        self._scheduler.start()
        log.info(
            "probe: location %s checks %d monitors (assignment %s)",
            assignment.location,
            len(monitors),
            assignment.version,
        )

    def _spool_result(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        result = record.result
        self.spool.add(
            ProbeResult(
                id=uuid.uuid4().hex,
                monitor_id=monitor.id,
                checked_at=record.checked_at,
                status=result.status.value,
                latency=result.latency,
                message=result.message[:2000],
                error_reason=record.error_reason,
            )
        )

    async def _poll_loop(self) -> None:
        while True:
            answered = await self.poll()
            interval = self.settings.poll_interval if answered else self.settings.retry_interval
            await self._clock.sleep_until(self._clock.monotonic() + interval)

    async def _send_loop(self) -> None:
        while True:
            answered = await self.send()
            if answered and self.spool.pending() >= self.settings.batch:
                continue  # a backlog: the next batch at once
            # Batches: results made within the send interval go together.
            interval = self.settings.send_interval if answered else self.settings.retry_interval
            await self._clock.sleep_until(self._clock.monotonic() + interval)


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
