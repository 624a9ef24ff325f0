"""An example third-party uplight plugin.

Install it next to uplight (``pip install ./contrib/uplight-example-plugin``)
and ``uplight plugins`` lists it; then a monitor can use ``type = "tcp_connect"``::

    [[monitors]]
    id = "ssh"
    name = "SSH"
    type = "tcp_connect"
    host = "192.168.1.10"
    port = 22
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import Field

from uplight import CheckContext, CheckOptions, CheckResult, CheckType, Renderer, hookimpl


class TcpOptions(CheckOptions):
    host: str
    port: int = Field(ge=1, le=65535)


class TcpCheck(CheckType):
    name = "tcp_connect"
    Options = TcpOptions
    description = "a TCP connection can be opened"

    async def check(self, options: TcpOptions, context: CheckContext) -> CheckResult:
        started = time.monotonic()
        try:
            async with asyncio.timeout(context.timeout):
                _, writer = await asyncio.open_connection(options.host, options.port)
        except TimeoutError:
            return CheckResult.down(f"no connection within {context.timeout:g}s")
        except OSError as exc:
            return CheckResult.down(f"connection failed: {exc.strerror or exc}")
        latency = time.monotonic() - started
        writer.close()
        return CheckResult.up(f"connected in {latency * 1000:.0f}ms", latency)


class TextRenderer(Renderer):
    name = "text"
    media_type = "text/plain; charset=utf-8"
    description = "the page as plain text"

    def render(self, snapshot: Any, **params: Any) -> bytes:
        lines = [f"{snapshot.title}: {snapshot.banner}"]
        lines += [f"  {c.name}: {c.status.value}" for c in snapshot.components]
        return ("\n".join(lines) + "\n").encode()


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(TcpCheck)


@hookimpl
def uplight_renderers(register: Any) -> None:
    register(TextRenderer)
