"""TOML → validated, immutable config. Every error carries its TOML path.

Errors are collected, not raised one at a time: an admin fixing a config sees
every problem in one run. Type-specific monitor keys are validated by the check
type's own ``Options`` model, and their errors use the same path form.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .checks import CheckOptions
from .durations import Duration, format_duration
from .notify.config import COMMON_NOTIFIER_KEYS, DefaultsConfig, NotifierConfig
from .paths import CONFIG_DIR
from .recurrence import (
    CronSpec,
    parse_cron,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
    weekly_spec,
)

ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
ID_RULE = "lowercase letters, digits and '-', 1 to 64 characters, not starting or ending with '-'"


def _id(value: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Id = Annotated[str, AfterValidator(_id)]
Text = Annotated[str, AfterValidator(_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Strict):
    listen: str = "127.0.0.1:8080"
    public_base_url: str = "http://127.0.0.1:8080"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

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
    retention_days: int = Field(30, ge=1, le=3650)


class SchedulerConfig(Strict):
    max_concurrency: int = Field(32, ge=1, le=1024)
    max_jitter: Duration = Field(10.0, ge=0)


class MetricsConfig(Strict):
    enabled: bool = True
    bearer_token_file: Path | None = None


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
    cache_ttl: Duration = Field(10.0, ge=0)  # 0 disables the page cache
    refresh_interval: Duration = Field(30.0, ge=1)  # the page script's refresh period
    rate_limit: RateLimitConfig = RateLimitConfig()


class MonitorConfig(Strict):
    """The keys every monitor has; everything else belongs to its check type."""

    id: Id
    name: Text
    type: str
    interval: Duration = Field(60.0, ge=1)
    timeout: Duration = Field(10.0, gt=0)
    failure_threshold: int = Field(2, ge=1, le=100)
    recovery_threshold: int = Field(1, ge=1, le=100)
    # Channel ids ([[notifiers]]); None: [defaults] notify. A list here replaces the defaults.
    notify: tuple[str, ...] | None = None
    options: Any = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> MonitorConfig:
        if self.timeout > self.interval:
            raise ValueError("timeout must not be longer than interval")
        return self


COMMON_MONITOR_KEYS = frozenset(MonitorConfig.model_fields) - {"options"}


class ComponentConfig(Strict):
    monitor: str
    public_name: Text | None = None
    public_group: Text | None = None
    public_description: str | None = None
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
    description: str | None = None
    severity: Literal["info", "warning", "critical"] = "info"
    components: tuple[str, ...] = ()
    duration: Duration
    weekly: WeeklyScheduleConfig | None = None
    cron: str | None = None
    timezone: str = "UTC"

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if len(value) > 200:
            raise ValueError("must be at most 200 characters")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 5000:
            raise ValueError("must be at most 5000 characters")
        return value

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
    monitors: tuple[MonitorConfig, ...] = ()
    pages: tuple[PageConfig, ...] = ()
    maintenance: tuple[MaintenanceConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    defaults: DefaultsConfig = DefaultsConfig()
    source: Path | None = None

    def monitor(self, monitor_id: str) -> MonitorConfig | None:
        return next((m for m in self.monitors if m.id == monitor_id), None)

    def notifier(self, notifier_id: str) -> NotifierConfig | None:
        return next((n for n in self.notifiers if n.id == notifier_id), None)

    def notify_ids(self, monitor_id: str) -> tuple[str, ...]:
        """The channels a monitor names: its own ``notify``, else ``[defaults] notify``."""
        monitor = self.monitor(monitor_id)
        if monitor is not None and monitor.notify is not None:
            return monitor.notify
        return self.defaults.notify

    @property
    def default_page(self) -> PageConfig | None:
        return next((p for p in self.pages if p.default), self.pages[0] if self.pages else None)

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
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{where}{len(self.issues)} config error(s):\n{lines}")


def load_config(
    path: Path | str,
    check_types: Mapping[str, Any],
    notifier_types: Mapping[str, Any] | None = None,
) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read config: {exc.strerror}")], path) from None
    return parse_config(text, check_types, source=path, notifier_types=notifier_types)


def parse_config(
    text: str,
    check_types: Mapping[str, Any],
    source: Path | None = None,
    notifier_types: Mapping[str, Any] | None = None,
) -> Config:
    """``notifier_types``: the registry's notifier classes (``[[notifiers]]`` types)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue("", f"not valid TOML: {exc}")], source) from None
    issues: list[ConfigIssue] = []
    vocabulary = _vocabulary(check_types)
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        field = _TopLevel.model_fields.get(key)
        if field is None:
            hint = _did_you_mean(key, _TopLevel.model_fields)
            issues.append(ConfigIssue(key, f"unknown section {key!r}{hint}"))
            continue
        try:
            sections[key] = _TopLevel.__pydantic_validator__.validate_assignment(
                _TopLevel.model_construct(), key, value
            ).__dict__[key]
        except ValidationError as exc:
            issues.extend(_issues(exc, (), vocabulary))
    raw_monitors = raw.get("monitors", [])
    config_dir = source.resolve().parent if source is not None else None
    monitors = _validate_monitors(raw_monitors, check_types, vocabulary, issues, config_dir)
    if isinstance(raw_monitors, list):
        _check_references(sections.get("pages", ()), raw_monitors, issues)
        _check_maintenance_references(sections.get("maintenance", ()), raw_monitors, issues)
    _check_token_file(sections.get("metrics"), config_dir, issues)
    raw_notifiers = raw.get("notifiers", [])
    notifiers = _validate_notifiers(
        raw_notifiers, notifier_types or {}, vocabulary, issues, config_dir
    )
    _check_notify_references(raw_notifiers, raw_monitors, raw.get("defaults"), issues)
    if issues:
        raise ConfigError(issues, source)
    sections["monitors"] = tuple(monitors)
    sections["notifiers"] = tuple(notifiers)
    return Config(**sections, source=source.resolve() if source else None)


def _check_token_file(
    metrics: MetricsConfig | None, config_dir: Path | None, issues: list[ConfigIssue]
) -> None:
    """Serving /metrics without the protection asked for would be worse than not starting."""
    path = metrics.bearer_token_file if metrics else None
    if path is None:
        return
    if not path.is_absolute() and config_dir is not None:
        path = config_dir / path
    where = "metrics.bearer_token_file"
    try:
        if not path.read_text(encoding="utf-8").strip():
            issues.append(ConfigIssue(where, f"{path} is empty"))
    except OSError as exc:
        issues.append(ConfigIssue(where, f"cannot read {path}: {exc.strerror}"))
    except UnicodeDecodeError:
        issues.append(ConfigIssue(where, f"{path} is not UTF-8 text"))


def _validate_monitors(
    raw_monitors: Any,
    check_types: Mapping[str, Any],
    vocabulary: set[str],
    issues: list[ConfigIssue],
    config_dir: Path | None = None,
) -> list[MonitorConfig]:
    if not isinstance(raw_monitors, list):
        return []  # the top-level model has already reported the wrong type
    monitors = []
    context = {CONFIG_DIR: config_dir} if config_dir is not None else None
    for index, raw in enumerate(raw_monitors):
        where: tuple[str | int, ...] = ("monitors", index)
        if not isinstance(raw, dict):
            continue
        common = {k: v for k, v in raw.items() if k in COMMON_MONITOR_KEYS}
        specific = {k: v for k, v in raw.items() if k not in COMMON_MONITOR_KEYS}
        monitor = None
        try:
            monitor = MonitorConfig.model_validate(common)
        except ValidationError as exc:
            issues.extend(_issues(exc, where, vocabulary))
        type_name = raw.get("type")
        check_type = check_types.get(type_name) if isinstance(type_name, str) else None
        if isinstance(type_name, str) and check_type is None:
            known = ", ".join(sorted(check_types)) or "none"
            hint = _did_you_mean(type_name, check_types)
            issues.append(
                ConfigIssue(
                    _path((*where, "type")),
                    f"unknown check type {type_name!r}{hint} (available: {known})",
                )
            )
            continue
        if check_type is None:
            continue
        options_model: type[CheckOptions] = check_type.Options
        try:
            options = options_model.model_validate(specific, context=context)
        except ValidationError as exc:
            issues.extend(_issues(exc, where, vocabulary | set(options_model.model_fields)))
            continue
        if monitor is not None:
            monitors.append(monitor.model_copy(update={"options": options}))
    return monitors


def _check_references(
    pages: tuple[PageConfig, ...], raw_monitors: list[Any], issues: list[ConfigIssue]
) -> None:
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_monitors):
        monitor_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(monitor_id, str):
            continue
        if monitor_id in first_index:
            issues.append(
                ConfigIssue(
                    f"monitors[{index}].id",
                    f"duplicate id {monitor_id!r} (first used by monitors[{first_index[monitor_id]}])",
                )
            )
        else:
            first_index[monitor_id] = index
    slugs: dict[str, int] = {}
    hostnames: dict[str, int] = {}
    defaults = [i for i, p in enumerate(pages) if p.default]
    for index in defaults[1:]:
        issues.append(
            ConfigIssue(f"pages[{index}].default", f"pages[{defaults[0]}] is already the default")
        )
    for index, page in enumerate(pages):
        if page.slug in slugs:
            issues.append(
                ConfigIssue(
                    f"pages[{index}].slug",
                    f"duplicate slug {page.slug!r} (first used by pages[{slugs[page.slug]}])",
                )
            )
        slugs.setdefault(page.slug, index)
        if page.hostname:
            host = page.hostname.lower()
            if host in hostnames:
                issues.append(
                    ConfigIssue(
                        f"pages[{index}].hostname",
                        f"hostname {host!r} is already used by pages[{hostnames[host]}]",
                    )
                )
            hostnames.setdefault(host, index)
        seen: set[str] = set()
        for c_index, component in enumerate(page.components):
            path = f"pages[{index}].components[{c_index}].monitor"
            if component.monitor not in first_index:
                hint = _did_you_mean(component.monitor, first_index)
                issues.append(ConfigIssue(path, f"no monitor has id {component.monitor!r}{hint}"))
            elif component.monitor in seen:
                issues.append(
                    ConfigIssue(path, f"monitor {component.monitor!r} is already on this page")
                )
            seen.add(component.monitor)


def _check_maintenance_references(
    entries: tuple[MaintenanceConfig, ...], raw_monitors: list[Any], issues: list[ConfigIssue]
) -> None:
    monitor_ids = {raw.get("id") for raw in raw_monitors if isinstance(raw, dict)}
    known = [m for m in monitor_ids if isinstance(m, str)]
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id in first_index:
            issues.append(
                ConfigIssue(
                    f"maintenance[{index}].id",
                    f"duplicate id {entry.id!r} (first used by maintenance[{first_index[entry.id]}])",
                )
            )
        first_index.setdefault(entry.id, index)
        seen: set[str] = set()
        for c_index, monitor_id in enumerate(entry.components):
            path = f"maintenance[{index}].components[{c_index}]"
            if monitor_id not in monitor_ids:
                hint = _did_you_mean(monitor_id, known)
                issues.append(ConfigIssue(path, f"no monitor has id {monitor_id!r}{hint}"))
            elif monitor_id in seen:
                issues.append(ConfigIssue(path, f"monitor {monitor_id!r} is already listed"))
            seen.add(monitor_id)


def _validate_notifiers(
    raw_notifiers: Any,
    notifier_types: Mapping[str, Any],
    vocabulary: set[str],
    issues: list[ConfigIssue],
    config_dir: Path | None = None,
) -> list[NotifierConfig]:
    """Like monitors: common keys by NotifierConfig, the rest by the channel type's Options."""
    if not isinstance(raw_notifiers, list):
        return []  # the top-level model has already reported the wrong type
    found = []
    context = {CONFIG_DIR: config_dir} if config_dir is not None else None
    for index, raw in enumerate(raw_notifiers):
        where: tuple[str | int, ...] = ("notifiers", index)
        if not isinstance(raw, dict):
            continue
        common = {k: v for k, v in raw.items() if k in COMMON_NOTIFIER_KEYS}
        specific = {k: v for k, v in raw.items() if k not in COMMON_NOTIFIER_KEYS}
        entry = None
        try:
            entry = NotifierConfig.model_validate(common)
        except ValidationError as exc:
            issues.extend(_issues(exc, where, vocabulary))
        type_name = raw.get("type")
        kind = notifier_types.get(type_name) if isinstance(type_name, str) else None
        if isinstance(type_name, str) and kind is None:
            known = ", ".join(sorted(notifier_types)) or "none"
            hint = _did_you_mean(type_name, notifier_types)
            issues.append(
                ConfigIssue(
                    _path((*where, "type")),
                    f"unknown notifier type {type_name!r}{hint} (available: {known})",
                )
            )
            continue
        if kind is None:
            continue
        try:
            options = kind.Options.model_validate(specific, context=context)
        except ValidationError as exc:
            issues.extend(_issues(exc, where, vocabulary | set(kind.Options.model_fields)))
            continue
        if entry is not None:
            found.append(entry.model_copy(update={"options": options}))
    return found


def _check_notify_references(
    raw_notifiers: Any, raw_monitors: Any, raw_defaults: Any, issues: list[ConfigIssue]
) -> None:
    """Unique channel ids; every ``notify`` entry names a declared channel (enabled or not)."""
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_notifiers if isinstance(raw_notifiers, list) else []):
        notifier_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(notifier_id, str):
            continue
        if notifier_id in first_index:
            issues.append(
                ConfigIssue(
                    f"notifiers[{index}].id",
                    f"duplicate id {notifier_id!r} (first used by notifiers[{first_index[notifier_id]}])",
                )
            )
        first_index.setdefault(notifier_id, index)
    lists: list[tuple[str, Any]] = []
    if isinstance(raw_defaults, dict):
        lists.append(("defaults.notify", raw_defaults.get("notify")))
    for index, raw in enumerate(raw_monitors if isinstance(raw_monitors, list) else []):
        if isinstance(raw, dict):
            lists.append((f"monitors[{index}].notify", raw.get("notify")))
    for where, ids in lists:
        if not isinstance(ids, list):
            continue  # absent, or a wrong type the models report
        seen: set[str] = set()
        for position, notifier_id in enumerate(ids):
            if not isinstance(notifier_id, str):
                continue
            path = f"{where}[{position}]"
            if notifier_id not in first_index:
                hint = _did_you_mean(notifier_id, first_index)
                issues.append(ConfigIssue(path, f"no notifier has id {notifier_id!r}{hint}"))
            elif notifier_id in seen:
                issues.append(ConfigIssue(path, f"notifier {notifier_id!r} is already listed"))
            seen.add(notifier_id)


def _issues(
    exc: ValidationError, prefix: tuple[str | int, ...], vocabulary: set[str]
) -> list[ConfigIssue]:
    found = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *error["loc"])
        if error["type"] == "extra_forbidden":
            key = str(loc[-1])
            message = f"unknown key {key!r}{_did_you_mean(key, vocabulary)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
        found.append(ConfigIssue(_path(loc), message))
    return found


def _path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue  # pydantic's internal validator names are noise to a TOML author
        else:
            out += f".{part}" if out else str(part)
    return out


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _vocabulary(check_types: Mapping[str, Any]) -> set[str]:
    words: set[str] = set(COMMON_MONITOR_KEYS)
    for model in (_TopLevel, ServerConfig, StorageConfig, SchedulerConfig, MetricsConfig):
        words |= set(model.model_fields)
    words |= set(PublicConfig.model_fields) | set(RateLimitConfig.model_fields)
    words |= set(PageConfig.model_fields) | set(ComponentConfig.model_fields)
    words |= set(MaintenanceConfig.model_fields) | set(WeeklyScheduleConfig.model_fields)
    words |= COMMON_NOTIFIER_KEYS | set(DefaultsConfig.model_fields)
    for check_type in check_types.values():
        words |= set(check_type.Options.model_fields)
    return words
