"""Text from a target or a program, made safe and short for an operator's message."""

from __future__ import annotations


def printable(text: str, limit: int = 200) -> str:
    """``text`` with control and format characters escaped (``\\r``, ``\\x1b``, ``\\u202e``),
    cut to ``limit`` characters with an ellipsis: one line that cannot restyle a log."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return shown + "…" if len(text) > limit else shown


def excerpt(text: str, limit: int = 80) -> str:
    """``text`` quoted like a Python string (escapes included), at most ``limit`` characters."""
    quoted = repr(text[:limit])
    return quoted + "…" if len(text) > limit else quoted
