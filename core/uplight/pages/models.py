"""Status pages and their components as the database holds them.

Plain rows, shared by the store that reads them, the services that decide on
them and the admin API that shows them (which must not import a store).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredComponent:
    monitor_id: str
    public_id: str
    public_name: str | None
    public_description: str | None
    public_group: str | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class StoredPage:
    slug: str
    title: str
    hostname: str | None
    default: bool  # effective: the page served at /status
    provisioned: bool
    config_index: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    components: tuple[StoredComponent, ...]  # by sort_order, then insertion

    def component(self, monitor_id: str) -> StoredComponent | None:
        return next((c for c in self.components if c.monitor_id == monitor_id), None)
