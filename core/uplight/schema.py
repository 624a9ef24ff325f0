"""The database as uplight uses it: every domain's migrations in the schema's order,
and the Store built with them.

Each domain keeps its migrations beside its SQL (a ``MIGRATIONS`` tuple in its store
module); this is the one place that puts them together. ``db/`` knows no domain, so
the Store is handed the list here, with the monitoring domain's writer of check results.
"""

from __future__ import annotations

from pathlib import Path

from .auth import session_store
from .auth import store as auth_store
from .db.migrations import Migration
from .db.postgres import is_postgres_url
from .db.store import Store
from .incidents import store as incidents_store
from .maintenance import store as maintenance_store
from .monitoring import push_store, state_store
from .monitoring import store as monitoring_store
from .notify import store as notify_store
from .pages import store as pages_store
from .probes import store as probes_store


def _in_schema_order(*domains: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """A migration's name starts with its number in the schema's history (``m001_…``),
    unique across domains: sorting by it replays that history, whichever domain a
    migration belongs to. The names are recorded in the database: never rename one."""
    return tuple(sorted((m for domain in domains for m in domain), key=lambda m: m.__name__))


MIGRATIONS: tuple[Migration, ...] = _in_schema_order(
    monitoring_store.MIGRATIONS,  # m001 results and rollups, m007 packed results
    auth_store.MIGRATIONS,  # m002 API tokens
    incidents_store.MIGRATIONS,  # m003 incidents, m008 manual incidents
    maintenance_store.MIGRATIONS,  # m004
    pages_store.MIGRATIONS,  # m005 status pages
    notify_store.MIGRATIONS,  # m006 notification outbox
    state_store.MIGRATIONS,  # m009 monitors' states (since when; set by the operator)
    push_store.MIGRATIONS,  # m010 push monitors' last pings
    session_store.MIGRATIONS,  # m011 console sessions
    probes_store.MIGRATIONS,  # m012 probe tokens' locations, each location's results
)


def build_store(path: Path | str, *, flush_interval: float = 1.0) -> Store:
    """The Store of uplight's database at ``path`` (a file, or a ``postgresql://`` URL):
    opening it (``await store.open()`` or ``async with``) creates the file if needed
    and applies the missing migrations."""
    url = path if isinstance(path, str) and is_postgres_url(path) else None
    return Store(
        path if url is None else "",
        url=url,
        migrations=MIGRATIONS,
        write_results=monitoring_store.insert_results,
        flush_interval=flush_interval,
    )
