"""The config's shape: frozen pydantic models, and the error types that name TOML paths.

``uplight.config`` re-exports everything here; import from there.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..durations import DAY, HOUR, Duration, format_duration
from ..eventloop import EventLoopSetting
from ..maintenance.recurrence import (
    CronSpec,
    parse_cron,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
    weekly_spec,
)
from ..notify.config import DefaultsConfig, NotifierConfig
from ..strictness import NoCoercion
from ..text import check_text

ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
ID_RULE = "lowercase letters, digits and '-', 1 to 64 characters, not starting or ending with '-'"
# The admin API's limits (web/api), so that a page provisioned from config can be
# edited through the API and the other way round.
NAME_MAX = 200  # names and titles: one line on the page
DESCRIPTION_MAX = 5000


def _id(value: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value.strip()) > NAME_MAX:
        raise ValueError(f"must be at most {NAME_MAX} characters")
    # The rule the admin API applies: one line, nothing that hides or reorders text.
    return check_text(value.strip())


def _description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"must be at most {DESCRIPTION_MAX} characters")
    return check_text(value, multiline=True)


Id = Annotated[str, AfterValidator(_id)]
Text = Annotated[str, AfterValidator(_text)]
"""A name or title: not blank, at most ``NAME_MAX`` characters, stripped."""
Description = Annotated[str, AfterValidator(_description)]


class Strict(NoCoercion):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Strict):
    listen: str = "127.0.0.1:8080"
    # Unset: derived from ``listen`` (right on the box itself; set it when a proxy
    # or another name fronts uplight, or links in RSS and notifications break).
    public_base_url: str = ""
    # The location name of the server's own checks (docs/probes.md): a monitor without
    # ``locations`` is checked here only, as before probes existed.
    location: Id = "local"
    # "auto": uvloop when the `fast` extra installed it (see uplight.eventloop).
    event_loop: EventLoopSetting = "auto"
    # With storage.url, several servers may share the database; one leads (runs the
    # checks, incidents and notifications). How often a follower tries to take the
    # lead, and the leader checks it still holds it (docs/deploy.md, "Several servers").
    leader_poll: Duration = Field(5.0, ge=0.1, le=300.0)
    # Set by ``with_listen`` (``serve --listen``, ``UPLIGHT_LISTEN``), so a reload
    # keeps the address the process was started with rather than the file's.
    _listen_override: str | None = PrivateAttr(None)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_base_url(self) -> ServerConfig:
        if not self.public_base_url:
            host, port = parse_listen(self.listen)
            if host in ("0.0.0.0", "::"):
                host = "127.0.0.1"  # a wildcard address is not somewhere to link to
            shown = f"[{host}]" if ":" in host else host
            object.__setattr__(self, "public_base_url", f"http://{shown}:{port}")
        return self

    @property
    def listen_override(self) -> str | None:
        """The address given on the command line or in the environment, if any."""
        return self._listen_override

    def with_listen(self, listen: str) -> ServerConfig:
        """This table served at ``listen`` instead; a ``public_base_url`` the file
        does not set is derived from the new address, one it sets is kept."""
        # Every other key the file sets is kept as it is.
        kept = {key: getattr(self, key) for key in self.model_fields_set - {"listen"}}
        if "leader_poll" in kept:  # parsed to seconds; the table takes duration strings
            kept["leader_poll"] = format_duration(kept["leader_poll"])
        server = ServerConfig(listen=listen, **kept)
        server._listen_override = listen
        return server

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


def parse_listen(value: str) -> tuple[str, int]:
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError('must be "host:port", e.g. "127.0.0.1:8080" or "[::1]:8080"')
    return match.group(1).strip("[]"), int(match.group(2))


class StorageConfig(Strict):
    path: Path = Path("data/uplight.db")
    # PostgreSQL instead of the SQLite file (docs/deploy.md, "PostgreSQL"). It may hold
    # a password: only ever shown scrubbed (db/postgres.py's scrub_url).
    url: str | None = Field(None, repr=False)
    retention_days: int = Field(30, ge=1, le=3650)

    @model_validator(mode="after")
    def _path_or_url(self) -> StorageConfig:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError("storage.url and storage.path are exclusive: set one")
        return self

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^postgres(ql)?://\S*$", value):
            # The value is not repeated: it may hold a password.
            raise ValueError('must be a PostgreSQL URL, "postgresql://user@host:5432/name"')
        return value


class SchedulerConfig(Strict):
    max_concurrency: int = Field(32, ge=1, le=1024)
    # Unset: each monitor's phase is spread over its whole interval (the scheduler's
    # phase_fraction). Set: a cap on the first wait after a start, as it was when the
    # default was 10s; "0s" starts every monitor at once.
    max_jitter: Duration | None = None
    # Check types whose checks run in a worker process of their own, out of the event
    # loop (docs/plugins.md, "Isolating an untrusted check type"); names are checked
    # against the loaded check types with the monitors.
    isolate: tuple[str, ...] = ()

    @field_validator("max_jitter")
    @classmethod
    def _jitter_at_most_an_hour(cls, value: float | None) -> float | None:
        # Field(le=...) on an optional Duration would report "3600", not "1h".
        if value is not None and value > HOUR:
            raise ValueError(f"must be at most {format_duration(HOUR)}")
        return value


class MetricsConfig(Strict):
    enabled: bool = True
    bearer_token_file: Path | None = None
    # False: each monitor's latency histogram keeps +Inf, _count and _sum (3 series, not 15).
    per_monitor_histograms: bool = True


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR network") from None
    return value


class RateLimitConfig(Strict):
    """Per-client-IP token bucket on the public routes (see docs/deploy.md)."""

    enabled: bool = True
    requests_per_minute: int = Field(60, ge=1)
    burst: int = Field(60, ge=1)
    # Proxies whose X-Forwarded-For is believed; empty: the peer address is the client.
    trusted_proxies: tuple[Annotated[str, AfterValidator(_network)], ...] = ()


class PublicConfig(Strict):
    cache_ttl: Duration = Field(10.0, ge=0, le=DAY)  # 0 disables the page cache
    # The page script's refresh period; a browser timer cannot wait much past 24 days.
    refresh_interval: Duration = Field(30.0, ge=1, le=DAY)
    rate_limit: RateLimitConfig = RateLimitConfig()


class AdminConfig(Strict):
    """The operator console at /admin (docs/console.md); off: its routes do not exist."""

    enabled: bool = True
    # A session ends after this long without a request, and this long after sign-in
    # whatever happens: a cookie left in a browser is not a key kept for ever.
    session_idle: Duration = Field(12 * HOUR, ge=60, le=30 * DAY)
    session_max: Duration = Field(7 * DAY, ge=60, le=365 * DAY)

    @model_validator(mode="after")
    def _idle_within_max(self) -> AdminConfig:
        if self.session_idle > self.session_max:
            raise ValueError("session_idle must not be longer than session_max")
        return self


class MonitorConfig(Strict):
    """The keys every monitor has; everything else belongs to its check type."""

    id: Id
    name: Text
    type: str
    # A week: past that a monitor watches nothing, and timers stay far from overflow.
    interval: Duration = Field(60.0, ge=1, le=7 * DAY)
    timeout: Duration = Field(10.0, gt=0)
    failure_threshold: int = Field(2, ge=1, le=100)
    recovery_threshold: int = Field(1, ge=1, le=100)
    # Channel ids ([[notifiers]]); None: [defaults] notify. A list here replaces the defaults.
    notify: tuple[str, ...] | None = None
    # false: an informational check; its thresholds open no incident (so nothing notifies
    # but certificate warnings), its results are stored, graphed and shown all the same.
    incidents: bool = True
    # Where it is checked (docs/probes.md): probes' location names, and the server's own
    # (``[server] location``). None: the server only, as before probes existed.
    locations: tuple[Id, ...] | None = None
    # How many locations must see it down (or degraded) for it to be; None: a majority.
    quorum: int | None = Field(None, ge=1, le=100)
    # A location's result counts this long after it was checked; None: two intervals.
    quorum_window: Duration | None = Field(None, ge=1, le=7 * DAY)
    options: Any = Field(default=None, exclude=True)

    @field_validator("locations")
    @classmethod
    def _distinct_locations(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("must name at least one location (leave it out for the server only)")
        seen = {name for name in value if value.count(name) > 1}
        if seen:
            raise ValueError(f"names {sorted(seen)[0]!r} more than once")
        return value

    @model_validator(mode="after")
    def _quorum_within_locations(self) -> MonitorConfig:
        count = len(self.locations) if self.locations is not None else 1
        if self.quorum is not None and self.quorum > count:
            # Raised here, the loader names the monitor; the field is in the message.
            raise ValueError(
                f"quorum ({self.quorum}) must not be more than its locations ({count})"
            )
        return self

    def location_names(self, server_location: str) -> tuple[str, ...]:
        """Where it is checked: its ``locations``, or the server alone."""
        return self.locations if self.locations is not None else (server_location,)

    def joined(self, server_location: str) -> bool:
        """Its state is joined from locations' results (docs/probes.md) rather than
        being the server's own checks, as every monitor's was before probes."""
        return self.location_names(server_location) != (server_location,)

    def needed(self) -> int:
        """The quorum: ``quorum``, or a majority of its locations."""
        if self.quorum is not None:
            return self.quorum
        return len(self.locations or ("",)) // 2 + 1

    def window(self) -> float:
        """Seconds a location's result counts for the joined state."""
        return self.quorum_window if self.quorum_window is not None else 2 * self.interval

    @field_validator("timeout")
    @classmethod
    def _timeout_within_interval(cls, value: float, info: ValidationInfo) -> float:
        interval = info.data.get("interval")
        if isinstance(interval, float) and value > interval:
            raise ValueError(f"must not be longer than interval ({format_duration(interval)})")
        return value


COMMON_MONITOR_KEYS = frozenset(MonitorConfig.model_fields) - {"options"}


class ComponentConfig(Strict):
    monitor: str
    public_name: Text | None = None
    public_group: Text | None = None
    public_description: Description | None = None
    sort_order: int = 0


class PageConfig(Strict):
    slug: Id
    title: Text
    hostname: str | None = None
    default: bool = False
    components: tuple[ComponentConfig, ...] = ()


MAX_MAINTENANCE_SECONDS = 30 * 86400


class WeeklyScheduleConfig(Strict):
    days: tuple[str, ...] = Field(min_length=1)
    at: str

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for day in value:
            parse_weekday(day)
        return value

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        parse_time_of_day(value)
        return value


class MaintenanceConfig(Strict):
    """A recurring maintenance window, materialised ahead of time (see uplight.maintenance)."""

    id: Id
    title: Text
    description: Description | None = None
    severity: Literal["info", "warning", "critical"] = "info"
    components: tuple[str, ...] = ()
    duration: Duration
    weekly: WeeklyScheduleConfig | None = None
    cron: str | None = None
    timezone: str = "UTC"

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: float) -> float:
        if not 60 <= value <= MAX_MAINTENANCE_SECONDS:
            raise ValueError(f"must be between 1m and 30d, not {format_duration(value)}")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> MaintenanceConfig:
        if (self.weekly is None) == (self.cron is None):
            raise ValueError('give exactly one schedule: weekly = { … } or cron = "…"')
        return self

    @property
    def schedule(self) -> CronSpec:
        if self.weekly is not None:
            return weekly_spec(self.weekly.days, self.weekly.at)
        return parse_cron(self.cron or "")


class _TopLevel(Strict):
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    metrics: MetricsConfig = MetricsConfig()
    public: PublicConfig = PublicConfig()
    admin: AdminConfig = AdminConfig()
    monitors: tuple[dict[str, Any], ...] = ()
    pages: tuple[PageConfig, ...] = ()
    maintenance: tuple[MaintenanceConfig, ...] = ()
    notifiers: tuple[dict[str, Any], ...] = ()
    defaults: DefaultsConfig = DefaultsConfig()


class Config(Strict):
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    metrics: MetricsConfig = MetricsConfig()
    public: PublicConfig = PublicConfig()
    admin: AdminConfig = AdminConfig()
    monitors: tuple[MonitorConfig, ...] = ()
    pages: tuple[PageConfig, ...] = ()
    maintenance: tuple[MaintenanceConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    defaults: DefaultsConfig = DefaultsConfig()
    source: Path | None = None

    # Lookups by id, built on first use: check-config and the notification router ask
    # once per monitor, and a linear search each time made 10,000 monitors quadratic.
    @functools.cached_property
    def _by_id(self) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
        # A cached property, not a private attribute: those would take part in ==.
        return {}

    def monitor(self, monitor_id: str) -> MonitorConfig | None:
        return self._index("monitors", self.monitors).get(monitor_id)

    def notifier(self, notifier_id: str) -> NotifierConfig | None:
        return self._index("notifiers", self.notifiers).get(notifier_id)

    def _index(self, name: str, items: tuple[Any, ...]) -> dict[str, Any]:
        cached = self._by_id.get(name)
        # Keyed by the tuple itself: a model_copy(update=...) shares this cache but
        # brings other items, and must not answer from the original's index.
        if cached is None or cached[0] is not items:
            index: dict[str, Any] = {}
            for item in items:
                index.setdefault(item.id, item)  # the first wins, as a search would
            cached = self._by_id[name] = (items, index)
        return cached[1]

    def notify_ids(self, monitor_id: str) -> tuple[str, ...]:
        """The channels a monitor names: its own ``notify``, else ``[defaults] notify``."""
        monitor = self.monitor(monitor_id)
        if monitor is not None and monitor.notify is not None:
            return monitor.notify
        return self.defaults.notify

    @property
    def default_page(self) -> PageConfig | None:
        return next((p for p in self.pages if p.default), self.pages[0] if self.pages else None)

    def with_listen(self, listen: str) -> Config:
        """This config served at ``listen`` (``serve --listen``, ``UPLIGHT_LISTEN``)."""
        return self.model_copy(update={"server": self.server.with_listen(listen)})

    @property
    def database_location(self) -> Path | str:
        """Where the store is: ``storage.url`` when set, else ``database_path``."""
        return self.storage.url if self.storage.url is not None else self.database_path

    @property
    def database_path(self) -> Path:
        """``storage.path``; a relative path is relative to the config file's folder."""
        path = self.storage.path
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    def __init__(self, issues: Iterable[ConfigIssue], source: Path | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.issues) == 1 and not self.issues[0].path:
            # About the file as a whole (unreadable, not UTF-8, not TOML): one line.
            super().__init__(f"{where}{self.issues[0]}")
            return
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{where}{len(self.issues)} config error(s):\n{lines}")
