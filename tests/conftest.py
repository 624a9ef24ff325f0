"""Fixtures shared by the whole suite."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Helper modules (tests/servers.py, tests/helpers.py) import as top-level modules.
sys.path.insert(0, str(TESTS))

from postgres import PostgresServer  # noqa: E402
from postgres import unavailable as postgres_unavailable  # noqa: E402

from uplight.config import Config, parse_config  # noqa: E402
from uplight.plugins import PluginRegistry, load_plugins  # noqa: E402


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    """The built-in plugins only: third-party plugins installed here do not leak in."""
    return load_plugins(builtins_only=True)


@pytest.fixture
def make_config(tmp_path: Path, registry: PluginRegistry) -> Callable[[str], Config]:
    """Parse TOML text as if it were ``tmp_path/config.toml``."""

    def make(text: str) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(text)
        return parse_config(
            text, registry.check_types, source=path, notifier_types=registry.notifiers
        )

    return make


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/postgres.py); skips saying why
    where none can be started."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"no PostgreSQL server: {reason}")
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store test's database is: a SQLite file, then a new database on the
    session's PostgreSQL server (skipped, saying why, where there is none)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "uplight.db"
