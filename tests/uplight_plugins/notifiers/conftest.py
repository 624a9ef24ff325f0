"""Fixtures for channel tests: a recording HTTP receiver on 127.0.0.1 and sample messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

# tests/ is on sys.path (tests/conftest.py puts it there), so the shared module imports flat.
from servers import HttpServer, Route

from uplight import Notification
from uplight.notify import messages

STARTED = dt.datetime(2024, 5, 1, 12, 0, 3, tzinfo=dt.UTC)
ENDED = STARTED + dt.timedelta(hours=1, minutes=5)

Receive = Callable[..., HttpServer]
MakeNotification = Callable[..., Notification]


@pytest.fixture
def receive() -> Iterator[Receive]:
    """Start a recording HttpServer, stopped after the test: ``receive({"/hook": Route(200)})``."""
    with ExitStack() as stack:

        def start(routes: dict[str, Route], **kwargs: Any) -> HttpServer:
            return stack.enter_context(HttpServer(routes, **kwargs))

        yield start


def _opened(**changes: Any) -> Notification:
    """An "incident opened" message as the host builds it; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "event": "incident_opened",
        "idempotency_key": "n-17-incident_opened",
        "title": "NAS is down",
        "text": "NAS is down since 12:00 UTC: connection refused",
        "monitor_id": "nas",
        "monitor_name": "NAS",
        "status": "major_outage",
        "severity": "major",
        "incident_id": 17,
        "started_at": STARTED,
        "url": "https://status.example.com/incidents/17",
        "created_at": STARTED,
    }
    return Notification(**(fields | changes))


def _ended(**changes: Any) -> Notification:
    """The matching "incident ended" message, with its downtime."""
    fields: dict[str, Any] = {
        "event": "incident_ended",
        "idempotency_key": "n-17-incident_ended",
        "title": "NAS has recovered",
        "text": "NAS is back after 1h 5m",
        "status": "operational",
        "ended_at": ENDED,
        "downtime_seconds": 3900.0,
        "created_at": ENDED,
    }
    return _opened(**(fields | changes))


@pytest.fixture
def opened() -> MakeNotification:
    """Build an "incident opened" message: ``opened(severity="critical")``."""
    return _opened


@pytest.fixture
def ended() -> MakeNotification:
    """Build an "incident ended" message: ``ended(downtime_seconds=42.0)``."""
    return _ended


@pytest.fixture
def private_opened() -> Notification:
    """An "incident opened" message as the host builds it for a monitor on no page: the
    reason on one line of ``text``, no public permalink, the link to the operator's view."""
    return messages.incident_opened(
        monitor_id="nas",
        monitor_name="NAS",
        incident_id=17,
        severity="major",
        started_at=STARTED,
        at=STARTED,
        url=None,
        operator_url="https://status.example.com/api/v1/incidents/17",
        why=messages.Why("connect to 192.168.1.20:443 failed: connection refused", 0.0042, "http"),
    )
