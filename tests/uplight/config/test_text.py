"""Names, titles and descriptions in the config follow the admin API's text rule
(issue 10, point 9): nothing that hides or reorders text, one line for names."""

from __future__ import annotations

import pytest

from uplight.config import ConfigError, parse_config
from uplight.plugins import PluginRegistry

MONITOR = """
[[monitors]]
id = "web"
name = "{name}"
type = "http"
url = "http://127.0.0.1:1/"
"""

PAGE = """
[[pages]]
slug = "main"
title = "{title}"
[[pages.components]]
monitor = "web"
public_description = "{description}"
"""


def errors_of(text: str, registry: PluginRegistry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, registry.check_types, notifier_types=registry.notifiers)
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MONITOR.format(name="Web\\u0000"),
            "monitors[0].name: must not contain a control character (U+0000, character 4)",
        ),
        (
            MONITOR.format(name="Web \\u202Eipa") + PAGE.format(title="Main", description="ok"),
            "monitors[0].name: must not contain RIGHT-TO-LEFT OVERRIDE (U+202E, character 5)",
        ),
        (
            MONITOR.format(name="Web") + PAGE.format(title="Main\\nPage", description="ok"),
            "pages[0].title: must not contain a line break or tab (U+000A, character 5)",
        ),
        (
            MONITOR.format(name="Web") + PAGE.format(title="Main", description="a\\u2066b"),
            "pages[0].components[0].public_description: must not contain LEFT-TO-RIGHT ISOLATE",
        ),
    ],
)
def test_control_and_bidi_characters_are_refused(
    text: str, expected: str, registry: PluginRegistry
) -> None:
    found = errors_of(text, registry)
    assert any(e.startswith(expected) for e in found), found


def test_descriptions_keep_newlines_and_tabs(registry: PluginRegistry) -> None:
    text = MONITOR.format(name="Web") + PAGE.format(title="Main", description="one\\n\\ttwo")
    config = parse_config(text, registry.check_types, notifier_types=registry.notifiers)
    assert config.pages[0].components[0].public_description == "one\n\ttwo"
