"""Whether ``storage.path`` can hold the database.

One check for ``check-config`` and for ``serve`` (before it starts), so a path
that one accepts the other never refuses. It creates nothing: the folders that
are missing are made when the database is first opened.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .models import Config, ConfigIssue


def check_database_path(config: Config) -> list[ConfigIssue]:
    """An issue at ``storage.path`` when the database could not be opened for writing there.
    Nothing to check here for ``storage.url``: the server answers when the store opens."""
    if config.storage.url is not None:
        return []
    path = config.database_path
    problem = _problem(path)
    return [ConfigIssue("storage.path", f"cannot open {path}: {problem}")] if problem else []


def _problem(path: Path) -> str | None:
    try:
        if path.is_dir():
            return "it is a folder"
        if path.exists():
            with path.open("r+b"):  # opened for writing, nothing written
                pass
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            return f"{folder} is not a folder"
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        # SQLite writes its journal beside the database, and a missing folder is
        # created in the nearest one that exists: either way, a new file there.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot create a file in {folder} ({exc.strerror or exc})"
    return None
