"""uplight: self-hosted status page and uptime monitor.

The names exported here are the public API for plugin authors.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("uplight")
"""Marker for hook implementations: ``@uplight.hookimpl``."""

from .check_metrics import CheckMetric, MetricTime  # noqa: E402
from .checks import (  # noqa: E402
    CheckContext,
    CheckOptions,
    CheckType,
    MonitorState,
    OperatorState,
    Ping,
    PingState,
)
from .durations import Duration  # noqa: E402
from .headers import HttpHeaders  # noqa: E402
from .models import CheckResult, CheckStatus, Status, isoformat_z  # noqa: E402
from .notifiers import Notification, Notifier, NotifierOptions  # noqa: E402
from .paths import ConfigPath  # noqa: E402
from .renderers import Renderer, RenderParams  # noqa: E402
from .secrets import Secret  # noqa: E402
from .snapshot import (  # noqa: E402
    BANNER_LABELS,
    HISTORY_DAYS,
    STATUS_LABELS,
    ComponentView,
    HistoryDay,
    IncidentPage,
    IncidentUpdateView,
    IncidentView,
    MaintenanceView,
    PageSnapshot,
)
from .trust import CAFile, client_ssl_context  # noqa: E402

__all__ = [
    "BANNER_LABELS",
    "HISTORY_DAYS",
    "STATUS_LABELS",
    "CAFile",
    "CheckContext",
    "CheckMetric",
    "CheckOptions",
    "CheckResult",
    "CheckStatus",
    "CheckType",
    "ComponentView",
    "ConfigPath",
    "Duration",
    "HistoryDay",
    "HttpHeaders",
    "IncidentPage",
    "IncidentUpdateView",
    "IncidentView",
    "MaintenanceView",
    "MetricTime",
    "MonitorState",
    "Notification",
    "Notifier",
    "NotifierOptions",
    "OperatorState",
    "PageSnapshot",
    "Ping",
    "PingState",
    "RenderParams",
    "Renderer",
    "Secret",
    "Status",
    "__version__",
    "client_ssl_context",
    "hookimpl",
    "isoformat_z",
]
