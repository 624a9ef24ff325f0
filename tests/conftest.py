"""Fixtures shared by the whole suite."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Helper modules (tests/servers.py, tests/helpers.py) import as top-level modules.
sys.path.insert(0, str(TESTS))

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
