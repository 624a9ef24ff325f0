"""The certificate warning: once when a certificate enters its warning window.

A scheduler listener. A monitor whose check options have ``warn_days`` (the
``tls`` check, or any plugin that uses that name) and whose result reports
``details.cert.days_left`` is watched: crossing below ``warn_days`` queues one
``certificate_expiring`` message per channel; going back above (a renewed
certificate) re-arms it. The key of the message names the certificate's
``not_after``, so a restart that sees the same certificate again queues
nothing twice; a plugin that reports no ``not_after`` may be warned once more
after a restart.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import aiosqlite

from ..config import MonitorConfig
from ..db.store import Store
from ..models import ResultRecord, isoformat_z
from . import messages
from .router import Router

log = logging.getLogger(__name__)


class CertificateWatch:
    def __init__(self, router: Router, store: Store) -> None:
        self.router = router
        self.store = store
        # monitor id -> whether the next crossing warns; unknown (absent) counts as armed
        self._armed: dict[str, bool] = {}

    async def observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        warn_days = _number(getattr(monitor.options, "warn_days", None))
        details = record.result.details if isinstance(record.result.details, dict) else {}
        cert = details.get("cert")
        if warn_days is None or not isinstance(cert, dict):
            return  # no certificate this time (e.g. refused): the state stays as it was
        days_left = _number(cert.get("days_left"))
        if days_left is None:
            return
        if days_left >= warn_days:
            self._armed[monitor.id] = True
            return
        if not self._armed.get(monitor.id, True):
            return
        self._armed[monitor.id] = False
        not_after = cert.get("not_after") if isinstance(cert.get("not_after"), str) else None
        crossing = not_after or isoformat_z(record.checked_at)
        channels = self.router.channels(monitor.id, "certificate_expiring")
        if not channels:
            return
        now = self.router.clock.now()

        def build(channel: Any) -> Any:
            return messages.certificate_expiring(
                channel=channel.id,
                monitor_id=monitor.id,
                monitor_name=monitor.name,
                days_left=days_left,
                warn_days=warn_days,
                not_after=not_after,
                crossing=crossing,
                at=now,
            )

        async def write(db: aiosqlite.Connection) -> int:
            return await self.router.queue(db, channels, build)

        try:
            queued = await self.store.write(write)
        except Exception:
            self._armed.pop(monitor.id, None)  # not queued: the next result tries again
            raise
        if queued:
            log.info(
                "certificate of %s expires in %.1f days: warning queued", monitor.id, days_left
            )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
