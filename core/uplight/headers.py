"""HTTP headers in config: names and values a request can carry as given."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, SecretStr

from .secrets import Secret

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


def _valid_headers(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    for name, secret in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        # A line break would let a value smuggle in a header (or a request) of its own.
        if any(c in secret.get_secret_value() for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: value must not contain line breaks")
    return value


HttpHeaders = Annotated[dict[str, Secret], AfterValidator(_valid_headers)]
"""A pydantic field type for extra request headers (``headers = { Authorization = … }``):
names are HTTP tokens, values are :data:`Secret` (a plain string, ``{ env = "NAME" }``
or ``{ file = "/path" }``) without line breaks."""
