"""The ``[[notifiers]]`` keys every channel has, and ``[defaults]``.

A leaf module (pydantic and durations only) because ``uplight.config`` imports
it to build the config; the type-specific keys of a channel are validated by
its plugin's ``Options`` there, exactly like a monitor's check options.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from ..durations import Duration
from ..strictness import NoCoercion

# The same rule as monitor ids (uplight.config.ID_PATTERN); repeated here because
# that module imports this one.
ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
ID_RULE = "lowercase letters, digits and '-', 1 to 64 characters, not starting or ending with '-'"

ChannelEvent = Literal[
    "incident_opened",
    "severity_changed",
    "incident_ended",
    "incident_update",
    "reminder",
    "certificate_expiring",
]
CHANNEL_EVENTS: tuple[str, ...] = (
    "incident_opened",
    "severity_changed",
    "incident_ended",
    "incident_update",
    "reminder",
    "certificate_expiring",
)
# Operator timeline updates are opt-in (send_updates): they are chatty by nature.
DEFAULT_EVENTS = frozenset(CHANNEL_EVENTS) - {"incident_update"}
# Automatic events a live maintenance window silences; an operator's update and
# the end of an incident the channel was told about are always delivered.
MAINTENANCE_SILENCED = frozenset(
    {"incident_opened", "severity_changed", "reminder", "certificate_expiring"}
)


class NotifierConfig(NoCoercion):
    """One ``[[notifiers]]`` table: the keys every channel has; ``options`` holds the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: str
    enabled: bool = True
    # None: every event but incident_update.
    events: tuple[ChannelEvent, ...] | None = None
    send_updates: bool = False
    # Checked by _remind_every, not ge=60: the error should speak durations, not seconds.
    remind_every: Duration | None = None
    min_gap: Duration = Field(0.0, ge=0)
    notify_during_maintenance: bool = False
    retry_for: Duration = Field(86400.0, ge=0)
    retry_backoff: Duration = Field(5.0, gt=0, le=3600)
    options: Any = Field(default=None, exclude=True)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.match(ID_PATTERN, value):
            raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
        return value

    @field_validator("remind_every")
    @classmethod
    def _remind_every(cls, value: float | None) -> float | None:
        if value is not None and value < 60:
            raise ValueError("must be at least 1m")
        return value

    @property
    def event_kinds(self) -> frozenset[str]:
        """What this channel is sent (enabled or not: the router checks that)."""
        kinds = set(DEFAULT_EVENTS if self.events is None else self.events)
        if self.send_updates:
            kinds.add("incident_update")
        if self.remind_every is None:
            kinds.discard("reminder")
        return frozenset(kinds)

    def sends(self, event: str) -> bool:
        return self.enabled and event in self.event_kinds


COMMON_NOTIFIER_KEYS = frozenset(NotifierConfig.model_fields) - {"options"}


class DefaultsConfig(NoCoercion):
    """``[defaults]``: what a monitor gets when it does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Channel ids for monitors without their own ``notify`` (which replaces this list).
    notify: tuple[str, ...] = ()
