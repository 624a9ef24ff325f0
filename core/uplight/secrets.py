"""Secret-valued options: a plain string, ``{ env = "NAME" }`` or ``{ file = "/path" }``.

The value is resolved when the config is loaded and kept in a ``SecretStr``, whose
repr and str are masked, so a secret never reaches a log line or an API response
by accident. Read it with ``.get_secret_value()`` at the point of use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr


def resolve_secret(value: Any) -> Any:
    if isinstance(value, SecretStr | str):
        return value
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in os.environ:
                raise ValueError(f"environment variable {name} is not set")
            return os.environ[name]
        if set(value) == {"file"} and isinstance(value["file"], str):
            path = Path(value["file"])
            try:
                # One trailing newline is an artefact of `echo x > file`, not part of the secret.
                return path.read_text(encoding="utf-8").removesuffix("\n")
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    raise ValueError('must be a string, { env = "NAME" } or { file = "/path" }')


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""A pydantic field type for passwords, tokens, webhook URLs and credential headers."""
