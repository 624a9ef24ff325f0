"""Static files of renderer plugins: ``/assets/<renderer>/<file>`` from its ``assets_dir``.

Pages link their CSS and JS with a content hash (``?v=<sha256 prefix>``), so a
request carrying the current hash may be cached for a year as immutable, and a
new release changes the URL. These routes are not rate-limited: one page view
fetches a few of them, they are answered from memory, and a browser caches them.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quart import Blueprint, Response, request

from ..renderers import Renderer
from .context import runtime
from .errors import ApiError
from .negotiation import accepts_gzip, etag_matches

blueprint = Blueprint("assets", __name__)

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"  # no hash, or a stale one: the content may change under it
HASH_LENGTH = 16

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = (".css", ".js", ".mjs", ".svg", ".json", ".txt")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # compressed once, for the text types
    media_type: str
    digest: str  # sha256 prefix: the ?v= value and the ETag

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def resolve(assets_dir: Path, filename: str) -> Path | None:
    """The file under ``assets_dir`` named by the URL, or None for anything outside it.

    Resolving first (symlinks, ``..``) and then requiring the result to sit
    inside the resolved folder refuses every traversal, encoded or not.
    """
    if not filename or "\0" in filename or "\\" in filename:
        return None
    root = assets_dir.resolve()
    try:
        candidate = (root / filename).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(root) or candidate == root or not candidate.is_file():
        return None
    return candidate


@functools.lru_cache(maxsize=256)
def _load(path: Path, mtime_ns: int, size: int) -> Asset:
    # Keyed by mtime and size too: an edited file (development) is read again.
    body = path.read_bytes()
    compressed = None
    if path.suffix.lower() in _COMPRESSIBLE and len(body) > 256:
        compressed = gzip.compress(body, compresslevel=9, mtime=0)
    digest = hashlib.sha256(body).hexdigest()[:HASH_LENGTH]
    return Asset(body, compressed, content_type(path), digest)


def load(path: Path) -> Asset:
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


def asset_url(renderer: Renderer, filename: str) -> str:
    """``/assets/<renderer>/<file>?v=<hash>``: the URL a page links a file by."""
    folder = renderer.assets_dir
    path = resolve(Path(folder), filename) if folder is not None else None
    if path is None:
        # A template naming a file that is not there: a plain link, which 404s
        # visibly in the browser rather than failing the whole page.
        return f"/assets/{renderer.name}/{filename}"
    return f"/assets/{renderer.name}/{filename}?v={load(path).digest}"


@functools.lru_cache(maxsize=64)
def asset_url_for(renderer: Renderer) -> Callable[[str], str]:
    """One callable per renderer, the same object every time: renderers get it as
    the ``asset_url`` parameter, and the page cache keys rendered bytes by parameters."""
    return functools.partial(asset_url, renderer)


@blueprint.get("/assets/<name>/<path:filename>")
async def serve_asset(name: str, filename: str) -> Response:
    renderer = runtime().registry.renderers.get(name)
    folder = renderer.assets_dir if renderer is not None else None
    path = resolve(Path(folder), filename) if folder is not None else None
    if path is None:
        raise ApiError(404, "NOT_FOUND", "no such asset")
    asset = load(path)
    version = request.args.get("v")
    cache_control = IMMUTABLE if version == asset.digest else SHORT
    headers = {
        "ETag": asset.etag,
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
    }
    if etag_matches(request.headers.get("If-None-Match"), asset.etag):
        return Response(b"", status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, content_type=asset.media_type, headers=headers)
