"""The one rule for text shown to people (issue 10, point 9), used by the API and the config."""

from __future__ import annotations

import pytest

from uplight.text import check_text, forbidden_character, is_blank


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x00b", "a control character (U+0000, character 2)"),
        ("\x1b[31mred", "a control character (U+001B, character 1)"),
        ("a\x9bb", "a control character (U+009B, character 2)"),
        ("abc\u202edef", "RIGHT-TO-LEFT OVERRIDE (U+202E, character 4)"),
        ("\u202a", "LEFT-TO-RIGHT EMBEDDING (U+202A, character 1)"),
        ("x\u2067", "RIGHT-TO-LEFT ISOLATE (U+2067, character 2)"),
        ("x\u2069", "POP DIRECTIONAL ISOLATE (U+2069, character 2)"),
        ("x\u206b", "ACTIVATE SYMMETRIC SWAPPING (U+206B, character 2)"),
        ("x\u2028y", "LINE SEPARATOR (U+2028, character 2)"),
        ("x\ufff9y", "INTERLINEAR ANNOTATION ANCHOR (U+FFF9, character 2)"),
        ("x\ud800", "a lone surrogate (U+D800, character 2)"),
        ("x\ufffe", "a noncharacter (U+FFFE, character 2)"),
        ("x\U0010ffff", "a noncharacter (U+10FFFF, character 2)"),
        ("a\nb", "a line break or tab (U+000A, character 2)"),
        ("a\tb", "a line break or tab (U+0009, character 2)"),
    ],
)
def test_single_line_refusals_name_the_character(text: str, expected: str) -> None:
    assert forbidden_character(text) == f"must not contain {expected}"
    with pytest.raises(ValueError, match="must not contain"):
        check_text(text)


def test_long_form_keeps_newlines_and_tabs_only() -> None:
    assert forbidden_character("one\ntwo\r\n\tthree", multiline=True) is None
    assert forbidden_character("a\rb", multiline=True) == (
        "must not contain a carriage return without a line feed (U+000D, character 2)"
    )
    assert forbidden_character("a\n\u202eb", multiline=True) is not None
    assert forbidden_character("a\n\x00", multiline=True) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Website unreachable",
        "\u05e9\u05dc\u05d5\u05dd \u200f(RTL mark)\u200e",  # marks cannot reorder a run
        "\U0001f468\u200d\U0001f4bb on call",  # zero-width joiner: one emoji
        "\u2764\ufe0f",  # variation selector
        "caf\u00e9 \u00ad soft hyphen",
    ],
)
def test_ordinary_text_passes(text: str) -> None:
    assert forbidden_character(text) is None
    assert check_text(text) == text


def test_blank_means_nothing_visible() -> None:
    assert is_blank(" \t\n\u200b\x00")
    assert not is_blank(" x ")
