"""TOML → validated, immutable config. Every error carries its TOML path.

Errors are collected, not raised one at a time: an admin fixing a config sees
every problem in one run. Type-specific monitor and notifier keys are
validated by the plugin type's own ``Options`` model, and their errors use the
same path form. The models live in ``models``, the cross-table checks in
``cross_checks``; this module is the one to import.
"""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..notify.config import COMMON_NOTIFIER_KEYS, NotifierConfig
from .cross_checks import (
    check_isolated_types,
    check_locations,
    check_maintenance_references,
    check_monitor_references,
    check_notify_references,
    check_page_references,
    check_ping_tokens,
    check_token_file,
    did_you_mean,
    issues_from,
    validate_typed_tables,
)
from .database_path import check_database_path
from .models import (
    COMMON_MONITOR_KEYS,
    DESCRIPTION_MAX,
    ID_PATTERN,
    ID_RULE,
    MAX_MAINTENANCE_SECONDS,
    NAME_MAX,
    ComponentConfig,
    Config,
    ConfigError,
    ConfigIssue,
    MaintenanceConfig,
    MetricsConfig,
    MonitorConfig,
    PageConfig,
    PublicConfig,
    RateLimitConfig,
    SchedulerConfig,
    ServerConfig,
    StorageConfig,
    Strict,
    WeeklyScheduleConfig,
    _TopLevel,
    parse_listen,
)

__all__ = [
    "COMMON_MONITOR_KEYS",
    "DESCRIPTION_MAX",
    "ID_PATTERN",
    "ID_RULE",
    "MAX_MAINTENANCE_SECONDS",
    "NAME_MAX",
    "ComponentConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "MaintenanceConfig",
    "MetricsConfig",
    "MonitorConfig",
    "PageConfig",
    "PublicConfig",
    "RateLimitConfig",
    "SchedulerConfig",
    "ServerConfig",
    "StorageConfig",
    "Strict",
    "WeeklyScheduleConfig",
    "check_database_path",
    "load_config",
    "parse_config",
    "parse_listen",
    "read_config_text",
]


def load_config(
    path: Path | str,
    check_types: Mapping[str, Any],
    notifier_types: Mapping[str, Any] | None = None,
) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    text = read_config_text(path)
    return parse_config(text, check_types, source=path, notifier_types=notifier_types)


def read_config_text(path: Path) -> str:
    """The file's text; a :class:`ConfigError` of one line when it cannot be read as UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read config: {exc.strerror}")], path) from None
    # Some editors start a UTF-8 file with a byte-order mark; it is not part of the TOML.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8")) + 1
        message = (
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column}"
            " (save the file as UTF-8)"
        )
        raise ConfigError([ConfigIssue("", message)], path) from None


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
    sections: dict[str, Any] = {}
    page_indexes: list[int] | None = None
    for key, value in raw.items():
        field = _TopLevel.model_fields.get(key)
        if field is None:
            hint = did_you_mean(key, _TopLevel.model_fields)
            issues.append(ConfigIssue(key, f"unknown section {key!r}{hint}"))
            continue
        if key == "pages" and isinstance(value, list):
            # One page at a time: a bad page must not hide the reference errors
            # (unknown monitors, duplicate slugs) of the others.
            page_indexes, sections[key] = _valid_pages(value, issues)
            continue
        try:
            sections[key] = _TopLevel.__pydantic_validator__.validate_assignment(
                _TopLevel.model_construct(), key, value
            ).__dict__[key]
        except ValidationError as exc:
            issues.extend(issues_from(exc, (), _TopLevel))
    raw_monitors = raw.get("monitors", [])
    config_dir = source.resolve().parent if source is not None else None
    monitors = validate_typed_tables(
        "monitors",
        raw_monitors,
        MonitorConfig,
        COMMON_MONITOR_KEYS,
        check_types,
        "check",
        issues,
        config_dir,
    )
    if isinstance(raw_monitors, list):
        check_page_references(sections.get("pages", ()), raw_monitors, issues, page_indexes)
        check_maintenance_references(sections.get("maintenance", ()), raw_monitors, issues)
        check_ping_tokens(monitors, raw_monitors, check_types, issues)
        check_monitor_references(monitors, raw_monitors, check_types, issues)
        check_locations(monitors, raw_monitors, check_types, issues)
    check_token_file(sections.get("metrics"), config_dir, issues)
    check_isolated_types(sections.get("scheduler"), check_types, issues)
    raw_notifiers = raw.get("notifiers", [])
    notifiers = validate_typed_tables(
        "notifiers",
        raw_notifiers,
        NotifierConfig,
        COMMON_NOTIFIER_KEYS,
        notifier_types or {},
        "notifier",
        issues,
        config_dir,
    )
    check_notify_references(raw_notifiers, raw_monitors, raw.get("defaults"), issues)
    if issues:
        raise ConfigError(issues, source)
    sections["monitors"] = tuple(monitors)
    sections["notifiers"] = tuple(notifiers)
    return Config(**sections, source=source.resolve() if source else None)


def _valid_pages(
    raw_pages: list[Any], issues: list[ConfigIssue]
) -> tuple[list[int], tuple[PageConfig, ...]]:
    """The pages that validate, and where each stands in the file (for error paths)."""
    indexes, pages = [], []
    for index, raw in enumerate(raw_pages):
        try:
            pages.append(PageConfig.model_validate(raw))
            indexes.append(index)
        except ValidationError as exc:
            issues.extend(issues_from(exc, ("pages", index), PageConfig))
    return indexes, tuple(pages)
