"""Memory of a long-running server: the C allocator's settings and the one worker thread.

What made ``uplight serve`` grow with page and scrape traffic (issue 11) was
mostly not live Python objects but freed memory the allocators kept: every
thread that allocates gets a glibc malloc arena of its own (up to eight per
core), a render's or a scrape's megabytes of bytes and strings are freed into
that thread's arena, and an arena gives memory back to the system only from its
top (Python's own allocator, for small objects, frees a 1 MiB arena only once
it is wholly empty: see ``web/exposition.py`` for what that asks of big
answers). So:

- :func:`tune_allocator` (``serve`` calls it first, before any thread starts)
  caps glibc at :data:`ARENAS` arenas, and fixes the size from which a block
  gets its own mapping, returned to the system when freed, at
  :data:`MMAP_THRESHOLD` (glibc raises it up to 32 MB by default after the first
  large free, so a page's or an exposition's buffers came from the heap ever
  after, pinned there by whatever was allocated above them). An operator's
  ``MALLOC_ARENA_MAX`` or ``MALLOC_MMAP_THRESHOLD_`` (or the matching
  ``GLIBC_TUNABLES``) wins: that setting is then left alone. Not glibc (musl,
  macOS): nothing to do.
- :func:`in_worker` runs CPU work that must stay off the event loop (a page's
  render and gzip, a snapshot's shaping, a ``/metrics`` exposition) in one
  dedicated thread, :data:`WORKER_NAME`, instead of one thread per kind of work:
  under the GIL they could not run in parallel anyway, and one thread is one
  arena. Jobs run in the order they came (a page render may wait for a scrape).
- When that thread falls idle it calls :func:`trim` (``malloc_trim(0)``), at most
  once per :data:`TRIM_EVERY` seconds, which hands the pages the job freed back
  to the system: 10 to 25 ms after a large render, off the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2  # the main thread's arena and one for every other thread
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept
WORKER_NAME = "uplight-worker"
TRIM_EVERY = 1.0  # seconds: the most often the idle worker trims the heap

R = TypeVar("R")

_libc: Any = None
_libc_loaded = False
_lock = threading.Lock()
_pending = 0  # jobs given to the worker and not finished
_last_trim = float("-inf")

# Module-wide: shared by every page cache (a reload builds new ones) and the
# metrics exposition; started on first use; concurrent.futures joins it at exit.
worker = ThreadPoolExecutor(1, thread_name_prefix=WORKER_NAME)


def _glibc() -> Any:
    """glibc through ctypes, or None (another C library, or none found)."""
    global _libc, _libc_loaded
    if not _libc_loaded:
        _libc_loaded = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.gnu_get_libc_version.restype = ctypes.c_char_p
            libc.gnu_get_libc_version()
            libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            libc.malloc_trim.argtypes = (ctypes.c_size_t,)
            _libc = libc
        except (OSError, AttributeError):
            _libc = None
    return _libc


def operator_set(environ: Mapping[str, str], variable: str, tunable: str) -> bool:
    """Whether the environment already sets ``variable`` or ``glibc.malloc.<tunable>``
    (glibc read it at start)."""
    return bool(environ.get(variable)) or f"malloc.{tunable}" in environ.get("GLIBC_TUNABLES", "")


def tune_allocator(environ: Mapping[str, str] = os.environ) -> str:
    """Cap glibc's malloc arenas at :data:`ARENAS` and fix its mmap threshold at
    :data:`MMAP_THRESHOLD`, each unless the environment sets it; what was done,
    for the startup log."""
    libc = _glibc()
    if libc is None:
        return "allocator left as it is (not glibc)"
    done = []
    for variable, tunable, param, value, what in (
        ("MALLOC_ARENA_MAX", "arena_max", M_ARENA_MAX, ARENAS, f"{ARENAS} malloc arenas"),
        (
            "MALLOC_MMAP_THRESHOLD_",
            "mmap_threshold",
            M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
            f"blocks from {MMAP_THRESHOLD // 1024} KiB mapped apart",
        ),
    ):
        if operator_set(environ, variable, tunable):
            done.append(f"{variable} from the environment")
        elif libc.mallopt(param, value) == 1:
            done.append(what)
        else:
            done.append(f"{variable} left as it is (mallopt refused)")
    return ", ".join(done)


def trim() -> bool:
    """Give freed heap pages back to the system (glibc's ``malloc_trim(0)``), unless
    done less than :data:`TRIM_EVERY` seconds ago; whether it trimmed."""
    global _last_trim
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        began = time.monotonic()
        if began - _last_trim < TRIM_EVERY:
            return False
        _last_trim = began
    libc.malloc_trim(0)
    return True


def _run(fn: Callable[..., R], args: tuple[Any, ...]) -> R:
    global _pending
    try:
        return fn(*args)
    finally:
        with _lock:
            _pending -= 1
            idle = _pending == 0
        if idle:
            trim()


def in_worker(fn: Callable[..., R], /, *args: Any) -> asyncio.Future[R]:
    """``fn(*args)`` in the worker thread while the event loop goes on (call on the
    loop): for CPU work on data no other code changes meanwhile."""
    global _pending
    with _lock:
        _pending += 1
    try:
        return asyncio.get_running_loop().run_in_executor(worker, _run, fn, args)
    except BaseException:
        with _lock:
            _pending -= 1
        raise
