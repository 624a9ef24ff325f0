"""Which event loop ``uplight serve`` runs on: asyncio's own, or uvloop.

uvloop comes with the ``fast`` extra (``pip install 'uplight[fast]'``). With the
cached page served at about 0.9 of a bare ASGI app, the time goes to the stack
under uplight (asyncio, hypercorn, h11), and uvloop replaces the first of them.
``auto`` (the default) runs on uvloop when it is importable, so installing the
extra is all it takes; ``asyncio`` turns it off; ``uvloop`` insists on it, and
its absence is an error rather than a quiet fall back to the slower loop.

The choice is made once, before the loop starts: a reload that changes it logs that
it takes effect at the next restart.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Literal, get_args

EventLoopSetting = Literal["auto", "asyncio", "uvloop"]
EVENT_LOOPS: tuple[str, ...] = get_args(EventLoopSetting)

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopUnavailable(LookupError):
    """The setting names a loop that is not installed."""


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def resolve(setting: str) -> Literal["asyncio", "uvloop"]:
    """The loop ``setting`` means on this machine; :class:`EventLoopUnavailable` when
    it insists on uvloop and uvloop is not installed."""
    if setting == "asyncio":
        return "asyncio"
    if setting == "auto":
        return "uvloop" if uvloop_installed() else "asyncio"
    if setting == "uvloop":
        if not uvloop_installed():
            raise EventLoopUnavailable(
                "uvloop is not installed: pip install 'uplight[fast]', or choose \"auto\""
                ' or "asyncio"'
            )
        return "uvloop"
    raise ValueError(f"unknown event loop {setting!r}: use one of {', '.join(EVENT_LOOPS)}")


def loop_factory(name: Literal["asyncio", "uvloop"]) -> LoopFactory:
    if name == "uvloop":
        import uvloop  # only when chosen: the extra is optional

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def describe(loop: asyncio.AbstractEventLoop) -> str:
    """The running loop in words for the start-up log, e.g. ``uvloop 0.21.0``."""
    module = type(loop).__module__.split(".")[0]
    if module == "uvloop":
        import uvloop

        return f"uvloop {uvloop.__version__}"
    return "asyncio"
