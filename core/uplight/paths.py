"""Paths in config: a relative path is relative to the config file's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationInfo, WrapValidator

CONFIG_DIR = "config_dir"  # key in the pydantic validation context set by the config loader


def _resolve(value: Any, handler: Any, info: ValidationInfo) -> Path:
    path: Path = handler(value)
    base = (info.context or {}).get(CONFIG_DIR)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return path


ConfigPath = Annotated[Path, WrapValidator(_resolve)]
"""A pydantic field type for files named in config (``ca_file``, password files…):
a relative path is taken relative to the config file's folder, so the meaning of
a config does not depend on the directory uplight was started from."""
