"""The layout rules of DESIGN.md, enforced: built-ins use only the public API."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PRIVATE_IMPORT = re.compile(r"^\s*(from\s+uplight\.\w|import\s+uplight\.\w)", re.MULTILINE)


def test_builtin_plugins_import_only_the_public_uplight_namespace() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "plugins" / "uplight_plugins").rglob("*.py")
        if PRIVATE_IMPORT.search(path.read_text())
    ]
    assert offenders == [], f"built-in plugins must import only from `uplight`: {offenders}"


def test_core_never_imports_the_builtin_plugins() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "core" / "uplight").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+uplight_plugins", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_stores_never_import_the_web() -> None:
    core = ROOT / "core" / "uplight"
    stores = [*(core / "db").rglob("*.py"), *core.glob("*/store.py"), *core.glob("*/*_store.py")]
    assert len(stores) > 6  # the database and every domain's store
    offenders = [
        str(path.relative_to(ROOT))
        for path in stores
        if re.search(r"^\s*(from|import)\s+(quart|\.\.web)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []
