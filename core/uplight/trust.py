"""Client TLS contexts for checks and channels: one trust policy for every plugin.

The system store (where a homelab's private CA is installed) plus certifi's
bundle when it is available, so a site never passes one check and fails
another. Contexts are built once per trust policy and shared (loading the
stores costs tens of milliseconds, a ``ca_file`` about half a millisecond, a
fair part of a whole HTTP check; contexts are safe to share). A ``ca_file``
context is keyed by the file's identity and modification time as well, so a
rotated CA file is read again without a restart.

``CAFile`` is the option type for such a file, so every plugin refuses a wrong
one the same way, when the config loads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from .paths import ConfigPath


def _loadable_ca(path: Path) -> Path:
    # Loaded now, exactly as client_ssl_context will load it, so a wrong file is a
    # config error naming the option rather than a monitor or channel that fails.
    if not path.exists():
        raise ValueError(f"file not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot load {path} as a PEM CA bundle: {exc}") from None
    return path


CAFile = Annotated[ConfigPath, AfterValidator(_loadable_ca)]
"""A pydantic field type for a CA bundle (``ca_file``): a :data:`ConfigPath` to a
readable file holding at least one PEM certificate, checked when the config loads."""


def client_ssl_context(
    *,
    verify: bool = True,
    ca_file: Path | None = None,
    alpn: Sequence[str] = (),
    minimum_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A client context. ``verify=False`` checks neither chain nor hostname.

    Treat the result as read-only: it is shared by every caller with the same policy.
    Raises ``OSError`` or ``ssl.SSLError`` when ``ca_file`` cannot be read or loaded.
    """
    if verify and ca_file is not None:
        return _with_ca_file(ca_file, tuple(alpn), minimum_version)
    return _shared(verify, tuple(alpn), minimum_version)


# A few per monitor at most; the bound only matters when CA files keep rotating.
CA_FILE_CONTEXTS = 128
_ca_file_contexts: OrderedDict[tuple[object, ...], ssl.SSLContext] = OrderedDict()
_ca_file_lock = threading.Lock()  # plugins may ask from worker threads


def _with_ca_file(
    ca_file: Path, alpn: tuple[str, ...], minimum_version: ssl.TLSVersion | None
) -> ssl.SSLContext:
    info = os.stat(ca_file)
    # Replaced (a new inode) or rewritten (a new mtime or size): a new key, read again.
    key = (str(ca_file), info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
    key += (alpn, minimum_version)
    with _ca_file_lock:
        context = _ca_file_contexts.get(key)
        if context is not None:
            _ca_file_contexts.move_to_end(key)
            return context
    context = _prepared(ssl.create_default_context(cafile=str(ca_file)), alpn, minimum_version)
    with _ca_file_lock:
        _ca_file_contexts[key] = context
        while len(_ca_file_contexts) > CA_FILE_CONTEXTS:
            _ca_file_contexts.popitem(last=False)
    return context


@functools.cache
def _shared(
    verify: bool, alpn: tuple[str, ...], minimum_version: ssl.TLSVersion | None
) -> ssl.SSLContext:
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
        with contextlib.suppress(ImportError):  # certifi comes with httpx today
            import certifi

            context.load_verify_locations(certifi.where())
    return _prepared(context, alpn, minimum_version)


def _prepared(
    context: ssl.SSLContext, alpn: tuple[str, ...], minimum_version: ssl.TLSVersion | None
) -> ssl.SSLContext:
    if alpn:
        context.set_alpn_protocols(list(alpn))
    if minimum_version is not None:
        context.minimum_version = minimum_version
    return context
