"""The layout rules of DESIGN.md, read from the imports (``ast``), so a review never has to.

- ``web/`` and ``cli/`` call services: they never import a domain's store module.
- A domain's store module holds SQL and row mapping only: no refusals (its own
  exception types), no listeners, no clock.
- ``db/`` imports no domain.
- No import cycle between modules of ``core/uplight``, type-only imports included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

CORE = Path(__file__).parents[2] / "core"
PACKAGE = CORE / "uplight"
DOMAINS = ("monitoring", "incidents", "maintenance", "pages", "notify", "auth")
SURFACES = ("web", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """Every uplight module ``name`` imports, wherever the import stands (functions and
    ``if TYPE_CHECKING:`` blocks included), with the line it is on."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in MODULES:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield (submodule if submodule in MODULES else target), node.lineno


def parents(name: str) -> Iterator[str]:
    """Importing ``a.b.c`` runs ``a.b``'s ``__init__`` first (``uplight`` itself aside: it is
    the public API every module lives under)."""
    parts = name.split(".")
    for i in range(2, len(parts)):
        yield ".".join(parts[:i])


GRAPH: dict[str, set[str]] = {
    name: {
        dep
        for target, _ in imports_of(name)
        for dep in (target, *parents(target))
        if dep != name and not name.startswith(dep + ".")
    }
    for name in MODULES
}


def is_store_module(name: str) -> bool:
    parts = name.split(".")
    return (
        len(parts) >= 3
        and parts[1] in DOMAINS
        and (parts[-1] == "store" or parts[-1].endswith("_store"))
    )


def test_every_domain_has_a_store_module_the_rules_apply_to() -> None:
    # Guards the rules below against a rename that would make them vacuous.
    domains_with_store = {name.split(".")[1] for name in MODULES if is_store_module(name)}
    assert domains_with_store == set(DOMAINS)


@pytest.mark.parametrize("surface", SURFACES)
def test_web_and_cli_never_import_a_domain_store(surface: str) -> None:
    offenders = sorted(
        {
            f"{name}:{line} imports {target}"
            for name in MODULES
            if name.startswith(f"uplight.{surface}.") or name == f"uplight.{surface}"
            for target, line in imports_of(name)
            if is_store_module(target)
        }
    )
    assert offenders == [], "web/ and cli/ call services, never a store:\n" + "\n".join(offenders)


def test_db_imports_no_domain() -> None:
    offenders = sorted(
        {
            f"{name}:{line} imports {target}"
            for name in MODULES
            if name.startswith("uplight.db")
            for target, line in imports_of(name)
            if not target.startswith("uplight.db")
        }
    )
    assert offenders == [], "\n".join(offenders)


def _store_rule_breaches(name: str) -> Iterator[str]:
    tree = ast.parse(MODULES[name].read_text())
    for target, line in imports_of(name):
        if target == "uplight.clock":
            yield f"{name}:{line} imports the clock (time rules belong to the service)"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            if bases & {"Exception", "ValueError", "LookupError", "RuntimeError"} or any(
                b.endswith(("Error", "Exists", "NotFound")) for b in bases
            ):
                yield f"{name}:{node.lineno} defines a refusal ({node.name})"
        elif isinstance(node, ast.arg) and "listener" in node.arg:
            yield f"{name}:{node.lineno} takes listeners ({node.arg})"
        elif isinstance(node, ast.Raise) and node.exc is not None:
            raised = ast.unparse(node.exc)
            if not raised.startswith(
                ("RuntimeError", "ValueError(", "TypeError", "AssertionError")
            ):
                yield f"{name}:{node.lineno} raises {raised} (a refusal belongs to the service)"


def test_store_modules_hold_sql_and_row_mapping_only() -> None:
    offenders = [b for name in MODULES if is_store_module(name) for b in _store_rule_breaches(name)]
    assert offenders == [], "\n".join(offenders)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in GRAPH.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in MODULES:
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle_in_core() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    GRAPH["uplight.clock"].add("uplight.models")
    GRAPH["uplight.models"].add("uplight.clock")
    try:
        assert ["uplight.clock", "uplight.models"] in _cycles()
    finally:
        GRAPH["uplight.clock"].discard("uplight.models")
        GRAPH["uplight.models"].discard("uplight.clock")
