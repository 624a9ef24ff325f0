"""``uplight.__all__`` is the plugin author's API: every name exists and is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import uplight

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"

# An entry defines a name: a heading, a table row or a list item that *begins*
# with the name in backticks. A call signature may follow inside the backticks
# (`client_ssl_context(*, verify=True, …)`). A mention in running prose (a
# wrapped line starting with a backtick included) or in a code block does not count.
_ENTRY = re.compile(r"^\s*(?:#{1,6}\s+|\|\s*|[-*]\s+)`(?P<name>[A-Za-z_][A-Za-z0-9_]*)[(`]")


def defined_names(markdown: str) -> set[str]:
    names: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else _ENTRY.match(line)
        if match:
            names.add(match["name"])
    return names


def api_section(markdown: str) -> str:
    """The "## The public API" section: its list is the reference for ``__all__``."""
    start = markdown.index("## The public API\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_every_exported_name_exists() -> None:
    assert len(set(uplight.__all__)) == len(uplight.__all__), "a name is listed twice"
    missing = [name for name in uplight.__all__ if not hasattr(uplight, name)]
    assert not missing, f"in uplight.__all__ but not defined: {missing}"
    namespace: dict[str, object] = {}
    exec("from uplight import *", namespace)
    assert set(uplight.__all__) <= set(namespace)


def test_every_exported_name_has_an_entry_in_the_plugin_docs() -> None:
    undocumented = sorted(set(uplight.__all__) - defined_names(DOCS.read_text()))
    assert not undocumented, (
        f"no entry in docs/plugins.md for {undocumented}: add a line beginning with "
        "the name in backticks (a list item, a table row or a heading)"
    )


def test_the_api_reference_names_only_exported_names() -> None:
    listed = defined_names(api_section(DOCS.read_text()))
    stale = sorted(listed - set(uplight.__all__))
    assert not stale, f"docs/plugins.md's public API lists names uplight does not export: {stale}"


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("- `CheckType`: base class of a check type", "CheckType"),
        ("| `CAFile` | `ca_file = …` | `Path` | … |", "CAFile"),
        ("### `Renderer`", "Renderer"),
        ("- `client_ssl_context(*, verify=True)`: a client context", "client_ssl_context"),
        ("- `__version__`: uplight's version string", "__version__"),
    ],
)
def test_what_counts_as_an_entry(line: str, name: str) -> None:
    assert defined_names(line) == {name}


@pytest.mark.parametrize(
    "text",
    [
        "A renderer receives a `PageSnapshot` and returns bytes.",
        "- the result is a `CheckResult`",
        "```python\n`Secret`\n```",
        "- `uplight.Status` is an enum",
        "- `CheckResult.up(...)` builds one",
        "  `TypedDict` whose keys are all optional",
    ],
)
def test_a_mention_is_not_an_entry(text: str) -> None:
    assert defined_names(text) == set()
