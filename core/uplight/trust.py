"""Client TLS contexts for checks and channels: one trust policy for every plugin.

The system store (where a homelab's private CA is installed) plus certifi's
bundle when it is available, so a site never passes one check and fails
another. Contexts for the shared stores are cached (loading a bundle costs tens
of milliseconds, and contexts are safe to share); a ``ca_file`` context is built
per call so a rotated CA file is picked up without a restart.

``CAFile`` is the option type for such a file, so every plugin refuses a wrong
one the same way, when the config loads.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
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

    Treat the result as read-only: without ``ca_file`` it is shared.
    """
    if verify and ca_file is not None:
        context = ssl.create_default_context(cafile=str(ca_file))
        return _prepared(context, tuple(alpn), minimum_version)
    return _shared(verify, tuple(alpn), minimum_version)


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
