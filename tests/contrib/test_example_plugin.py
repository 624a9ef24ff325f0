"""The example third-party plugin in contrib/ works through the public API only."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from helpers import free_port

from uplight import CheckContext, CheckStatus
from uplight.plugins import load_plugins

PLUGIN_DIR = Path(__file__).parents[2] / "contrib" / "uplight-example-plugin"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    return importlib.import_module("uplight_example")


async def test_tcp_check_up_and_down(example) -> None:
    registry = load_plugins(builtins_only=True, extra=[("example", example)])
    tcp = registry.check_types["tcp_connect"]
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        up = await tcp.check(tcp.Options(host="127.0.0.1", port=port), CheckContext("t", 1.0))
    down = await tcp.check(tcp.Options(host="127.0.0.1", port=free_port()), CheckContext("t", 1.0))
    assert up.status is CheckStatus.UP and up.latency is not None
    assert down.status is CheckStatus.DOWN and "connection failed" in down.message
    assert registry.plugins["example"].provides == {
        "check type": ["tcp_connect"],
        "renderer": ["text"],
    }


def test_plugin_imports_only_the_public_api() -> None:
    source = (PLUGIN_DIR / "uplight_example" / "__init__.py").read_text()
    assert "from uplight import" in source
    assert "from uplight." not in source and "import uplight." not in source


async def test_a_plugin_renderer_is_served(example, make_config) -> None:
    from uplight.web import create_app

    registry = load_plugins(builtins_only=True, extra=[("example", example)])
    config = make_config(
        '[[monitors]]\nid = "web"\nname = "Web"\ntype = "http"\nurl = "http://127.0.0.1:9/"\n'
        'interval = "1h"\ntimeout = "1s"\n[[pages]]\nslug = "main"\ntitle = "Home"\n'
        '[[pages.components]]\nmonitor = "web"\npublic_name = "Website"\n'
    )
    app = create_app(config, registry)
    async with app.test_app() as test_app:
        await app.extensions["uplight"].scheduler.stop()
        client = test_app.test_client()
        text = await client.get("/status/render/text")
        assert text.status_code == 200
        assert text.headers["Content-Type"].startswith("text/plain")
        assert (
            text.headers["ETag"] and "default-src 'none'" in text.headers["Content-Security-Policy"]
        )
        assert await text.get_data(as_text=True) == "Home: No Data Yet\n  Website: no_data\n"
        by_slug = await client.get("/status/pages/main/render/text")
        assert by_slug.status_code == 200
        missing = await client.get("/status/render/atom", headers={"Accept": "application/json"})
        assert missing.status_code == 404
        assert (await missing.get_json())["error"]["code"] == "NOT_FOUND"
