"""Text that is safe to log, store and send: no secret of the options it came from.

Channels promise not to put URLs or tokens in their exceptions; this is the
host's second line. Every ``SecretStr`` in the options (nested in tables and
lists too) is replaced by ``***`` wherever it appears in the text, and so are
the path and query of a secret URL (a webhook URL's token lives there, and a
library may print the URL in a slightly different form) and the password of
any URL (``http://user:password@host/``), secret or not.

The same rule scrubs a check's message against its monitor's options before
the message is logged (a state change) or sent (a notification's ``reason``):
a header value, a basic-auth password or a DoH token never reaches either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

MAX_ERROR = 300
MAX_REASON = 500  # a check's message, in a log line or a notification
MIN_SECRET = 3  # shorter values would blank out ordinary words


def secret_values(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        yield secret
        if "://" in secret:
            parts = urlsplit(secret)
            yield from (p for p in (parts.path, parts.query, parts.password or "") if len(p) > 1)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_values(getattr(value, name, None))
    elif isinstance(value, str) and "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:  # not a URL after all (or a malformed one): nothing to take
            password = None
        if password:
            yield password
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_values(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secret_values(item)


def scrub(text: str, options: Any) -> str:
    # Longest first, so a URL is replaced whole before its path would be.
    for secret in sorted(set(secret_values(options)), key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, "***")
    return text


def describe_error(exc: BaseException, options: Any) -> str:
    """``Type: message``, one line, scrubbed and bounded."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = re.sub(r"\s+", " ", scrub(text, options))
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def scrub_reason(message: str, options: Any) -> str:
    """A check's message as a log line or a notification shows it: scrubbed of the
    monitor's secrets, one line, bounded."""
    text = " ".join(scrub(message, options).split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
