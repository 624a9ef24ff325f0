"""What text shown to people may hold: one rule for the admin API and the config.

Titles and names are one line; descriptions and messages are long-form and may
hold newlines (``\\n``, ``\\r\\n``) and tabs. Neither may hold:

- control characters (C0 and C1: NUL, ESC, a lone CR…): invalid in HTML and
  XML (the page, the RSS feed), and a terminal obeys them;
- the bidirectional embeddings, overrides and isolates (U+202A to U+202E,
  U+2066 to U+2069) and the deprecated format characters (U+206A to U+206F): they
  reorder what a reader sees, so "moc.elpmaxe" can read as "example.com"
  ("Trojan Source"). The marks U+200E, U+200F and U+061C stay allowed: they
  cannot reorder a run, and right-to-left text needs them;
- the line and paragraph separators (U+2028, U+2029) and the interlinear
  annotation characters (U+FFF9 to U+FFFB), which break a line or hide text;
- lone surrogates and noncharacters (U+FDD0 to U+FDEF, U+FFFE and U+FFFF in every
  plane): not text, and invalid in XML.

Zero-width joiners and variation selectors are allowed: emoji and several
scripts need them.
"""

from __future__ import annotations

import re
import unicodedata

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
# Everything refused everywhere, except the three whitespace controls a long text keeps.
_ALWAYS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u2028\u2029\u202a-\u202e\u2066-\u206f\ufff9-\ufffb\ud800-\udfff" + _NONCHARACTERS
)
_SINGLE_LINE = re.compile(f"[{_ALWAYS}\t\n\r]")
# A CR is a line break only as half of CRLF; alone it rewrites a terminal line.
_LONG_FORM = re.compile(f"[{_ALWAYS}]|\r(?!\n)")


def is_blank(text: str) -> bool:
    """Nothing a reader could see: "\\u0000" or "\\u200b" alone is not a message."""
    return not any(ch.isprintable() and not ch.isspace() for ch in text)


def forbidden_character(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot be shown, naming its first forbidden character, or None.

    For instance "must not contain RIGHT-TO-LEFT OVERRIDE (U+202E, character 7)".
    """
    found = (_LONG_FORM if multiline else _SINGLE_LINE).search(text)
    if found is None:
        return None
    char = found.group()[0]
    if multiline and char == "\r":
        what = "a carriage return without a line feed"
    elif char in "\t\n\r":
        what = "a line break or tab"
    else:
        what = unicodedata.name(char, "") or _UNNAMED.get(
            unicodedata.category(char), "a noncharacter"
        )
    return f"must not contain {what} (U+{ord(char):04X}, character {found.start() + 1})"


_UNNAMED = {"Cc": "a control character", "Cs": "a lone surrogate"}


def check_text(text: str, *, multiline: bool = False) -> str:
    """``text`` unchanged, or ValueError naming the first forbidden character."""
    problem = forbidden_character(text, multiline=multiline)
    if problem is not None:
        raise ValueError(problem)
    return text
