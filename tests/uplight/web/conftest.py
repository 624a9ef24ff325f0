"""An API harness: the real app in-process with a real token and a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from uplight.auth.tokens import create_token
from uplight.clock import FakeClock
from uplight.runtime import Runtime
from uplight.web import create_app

BASE_CONFIG = """
[[monitors]]
id = "web"
name = "Web server"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
public_name = "Website"
"""


@dataclass
class Api:
    app: Any
    client: Any
    runtime: Runtime
    token: str
    clock: FakeClock

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, json: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, parsed JSON or None) with the token."""
        headers = {**self.auth, **kwargs.pop("headers", {})}
        response = await self.client.open(path, method=method, json=json, headers=headers, **kwargs)
        data = await response.get_data()
        return response.status_code, (await response.get_json() if data else None)


@pytest.fixture
def api_factory(make_config) -> Callable[..., Any]:
    """``async with api_factory(extra_toml) as api:`` — scheduler stopped unless asked."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(
        extra: str = "", *, run_scheduler: bool = False, base: str = BASE_CONFIG
    ) -> AsyncIterator[Api]:
        config = make_config(base + extra)
        from uplight.plugins import load_plugins

        registry = load_plugins(builtins_only=True)
        clock = FakeClock()
        runtime = Runtime(config, registry, clock=clock)
        app = create_app(config, registry, runtime=runtime)
        async with app.test_app() as test_app:
            if not run_scheduler:
                await runtime.scheduler.stop()
            token = await create_token(runtime.store, "tester")
            yield Api(app, test_app.test_client(), runtime, token, clock)

    return make
