"""The token file `uplight login` writes: admin API tokens by server URL, mode 0600.

``$XDG_CONFIG_HOME/uplight/tokens.json`` (``~/.config/uplight/tokens.json`` when
unset) maps each server's base URL to its token, so one person can manage two
servers, and a token is only ever sent to the server it was checked against.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from pathlib import Path

FILE_NAME = "tokens.json"


class TokenFileError(Exception):
    """The token file exists but cannot be read as a token file."""


def token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    # The XDG spec: a relative value is invalid and is ignored.
    folder = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return folder / "uplight" / FILE_NAME


def server_key(url: str) -> str:
    """``http://Host:8080/`` and ``http://host:8080`` are the same server."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rstrip("/")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise TokenFileError(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TokenFileError(
            f"{path} is not valid JSON ({exc}): remove it and log in again"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise TokenFileError(f"{path} must map server URLs to tokens: remove it and log in again")
    return data


def stored_token(url: str) -> str | None:
    """The token stored for the server at ``url``, if any."""
    path = token_file()
    tokens = _read(path)
    token = tokens.get(server_key(url))
    if token is not None and path.stat().st_mode & 0o077:
        print(
            f"warning: {path} can be read by other users; run: chmod 600 {path}",
            file=sys.stderr,
        )
    return token


def store_token(url: str, token: str) -> Path:
    path = token_file()
    tokens = _read(path)
    tokens[server_key(url)] = token
    _write(path, tokens)
    return path


def remove_token(url: str | None) -> bool:
    """Forget the token for ``url`` (every token when ``url`` is None); False when none was stored."""
    path = token_file()
    tokens = _read(path)
    if url is None:
        found = path.exists()
        path.unlink(missing_ok=True)
        return found
    if tokens.pop(server_key(url), None) is None:
        return False
    if tokens:
        _write(path, tokens)
    else:
        path.unlink()
    return True


def _write(path: Path, tokens: dict[str, str]) -> None:
    """Replace the file in one step; it is never, even for a moment, readable by others."""
    created = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created:
        path.parent.chmod(0o700)  # mkdir's mode is masked by the umask; this is not
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(fd, 0o600)  # a leftover temporary file keeps its old mode through O_CREAT
            json.dump(tokens, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
