"""The http check's expect_json and certificate facts, against servers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from certs import days_from_now, make_ca, make_cert, server_context
from servers import HttpServer, Route

from uplight import CheckContext, CheckResult, CheckStatus
from uplight_plugins.checks.http import HttpCheck, HttpOptions

Serve = Callable[..., HttpServer]

pytestmark = pytest.mark.timeout(10)

DOC = {"status": "ok", "queue": 42, "ready": True, "tags": ["a", "b"], "version": "1.2.3"}


async def run(**options: Any) -> CheckResult:
    validated = HttpOptions.model_validate(options)
    return await HttpCheck().check(validated, CheckContext(monitor_id="m", timeout=2.0))


@pytest.fixture
def json_url(serve: Serve) -> str:
    return serve({"/": Route(200, json.dumps(DOC))}).url("/")


@pytest.mark.parametrize(
    ("assertion", "passes"),
    [
        ({"path": "$.status", "equals": "ok"}, True),
        ({"path": "$.status", "equals": "down"}, False),
        ({"path": "$.ready", "equals": 1}, False),  # true is not 1
        ({"path": "$.status", "not_equals": "down"}, True),
        ({"path": "$.status", "not_equals": "ok"}, False),
        ({"path": "$.queue", "less_than": 100}, True),
        ({"path": "$.queue", "less_than": 10}, False),
        ({"path": "$.queue", "greater_than": 10}, True),
        ({"path": "$.status", "greater_than": 10}, False),  # not a number
        ({"path": "$.tags", "contains": "b"}, True),
        ({"path": "$.version", "contains": ".2."}, True),
        ({"path": "$.tags", "contains": "z"}, False),
        ({"path": "$.version", "matches": r"^1\.\d+"}, True),
        ({"path": "$.version", "matches": r"^2\."}, False),
        ({"path": "$.status", "exists": True}, True),
        ({"path": "$.missing", "exists": False}, True),
        ({"path": "$.missing", "exists": True}, False),
        ({"path": "$.tags[*]", "matches": "^[ab]$"}, True),  # every selected value
        ({"path": "$.missing", "equals": 1}, False),
    ],
)
async def test_operators(json_url: str, assertion: dict[str, Any], passes: bool) -> None:
    result = await run(url=json_url, expect_json=[assertion])
    assert result.status is (CheckStatus.UP if passes else CheckStatus.DOWN), result.message


async def test_failure_names_path_expected_and_found(json_url: str) -> None:
    result = await run(
        url=json_url,
        expect_json=[{"path": "$.status", "equals": "ok"}, {"path": "$.queue", "less_than": 10}],
    )
    assert result.status is CheckStatus.DOWN
    assert result.message == "$.queue: expected less than 10.0, found 42"
    missing = await run(url=json_url, expect_json=[{"path": "$.nope", "equals": "x"}])
    assert missing.message == '$.nope: expected equals "x", found nothing'


async def test_found_value_is_bounded(serve: Serve) -> None:
    url = serve({"/": Route(200, json.dumps({"s": "x" * 5000}))}).url("/")
    result = await run(url=url, expect_json=[{"path": "$.s", "equals": "y"}])
    assert result.status is CheckStatus.DOWN
    assert len(result.message) < 200
    assert result.message.endswith("…")


async def test_body_not_json_is_down(serve: Serve) -> None:
    url = serve({"/": Route(200, "<html>hello</html>")}).url("/")
    result = await run(url=url, expect_json=[{"path": "$.status", "equals": "ok"}])
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("body is not JSON: expecting value")


async def test_body_cut_at_max_body_bytes_says_so(serve: Serve) -> None:
    url = serve({"/": Route(200, json.dumps(DOC))}).url("/")
    result = await run(
        url=url, max_body_bytes=10, expect_json=[{"path": "$.queue", "exists": True}]
    )
    assert result.status is CheckStatus.DOWN
    assert "max_body_bytes = 10" in result.message


@pytest.mark.parametrize(
    ("assertion", "words"),
    [
        ({"path": "$.[", "equals": 1}, "invalid JSONPath"),
        ({"path": "$.a"}, "needs exactly one of"),
        ({"path": "$.a", "equals": 1, "exists": True}, "found equals, exists"),
        ({"path": "$.a", "matches": "("}, "matches"),
        ({"path": "$.a", "between": 1}, "between"),
    ],
)
def test_config_errors(assertion: dict[str, Any], words: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        HttpOptions.model_validate(
            {
                "url": "http://127.0.0.1/",
                "expect_json": [{"path": "$.x", "exists": True}, assertion],
            }
        )
    assert words in str(caught.value)
    assert caught.value.errors()[0]["loc"][:2] == ("expect_json", 1)


def test_bad_path_error_is_located_at_path() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        HttpOptions.model_validate({"url": "http://127.0.0.1/", "expect_json": [{"path": "$$"}]})
    assert caught.value.errors()[0]["loc"] == ("expect_json", 0, "path")


def test_head_refuses_expect_json() -> None:
    with pytest.raises(pydantic.ValidationError, match="expect_json"):
        HttpOptions.model_validate(
            {"url": "http://x/", "method": "HEAD", "expect_json": [{"path": "$", "exists": True}]}
        )


def test_cert_thresholds_need_https_and_order() -> None:
    with pytest.raises(pydantic.ValidationError, match="https"):
        HttpOptions.model_validate({"url": "http://x/", "cert_warn_days": 14})
    with pytest.raises(pydantic.ValidationError, match="must not be more"):
        HttpOptions.model_validate(
            {"url": "https://x/", "cert_warn_days": 3, "cert_critical_days": 7}
        )


def _short_lived(serve: Serve, days: float) -> tuple[HttpServer, Any]:
    ca = make_ca()
    leaf = make_cert("127.0.0.1", issuer=ca, not_after=days_from_now(days))
    return serve({"/": Route(200, "{}")}, tls=server_context(leaf)), ca


async def test_https_reports_cert_days_left(serve: Serve, tmp_path: Any) -> None:
    server, ca = _short_lived(serve, 30)
    result = await run(url=server.url("/"), ca_file=ca.write_cert(tmp_path / "ca.pem"))
    assert result.status is CheckStatus.UP
    assert 29.9 < result.details["cert"]["days_left"] <= 30
    assert result.details["cert"]["not_after"].endswith("Z")
    assert result.details["cert_verified"] is True


async def test_degraded_under_cert_warn_days(serve: Serve, tmp_path: Any) -> None:
    server, ca = _short_lived(serve, 5)
    ca_file = ca.write_cert(tmp_path / "ca.pem")
    result = await run(url=server.url("/"), ca_file=ca_file, cert_warn_days=14)
    assert result.status is CheckStatus.DEGRADED
    assert result.message == "certificate expires in 5.0 days"
    down = await run(url=server.url("/"), ca_file=ca_file, cert_warn_days=14, cert_critical_days=7)
    assert down.status is CheckStatus.DOWN
    fine = await run(url=server.url("/"), ca_file=ca_file, cert_warn_days=3)
    assert fine.status is CheckStatus.UP


async def test_unverified_still_reports_cert(serve: Serve) -> None:
    server, _ = _short_lived(serve, 5)
    result = await run(url=server.url("/"), verify_tls=False, cert_warn_days=14)
    assert result.status is CheckStatus.DEGRADED
    assert result.details["cert_verified"] is False


async def test_plain_http_reports_no_cert(json_url: str) -> None:
    result = await run(url=json_url)
    assert "cert" not in result.details


async def test_metrics_show_tls_gauges_for_an_https_monitor(
    serve: Serve, tmp_path: Any, make_config: Callable[[str], Any], registry: Any
) -> None:
    from helpers import wait_for
    from prometheus_client.parser import text_string_to_metric_families

    from uplight.runtime import Runtime
    from uplight.web.app import create_app
    from uplight.web.context import EXTENSION

    server, ca = _short_lived(serve, 10)
    ca_file = ca.write_cert(tmp_path / "ca.pem")
    config = make_config(
        '[scheduler]\nmax_jitter = "0s"\n\n[[monitors]]\nid = "site"\nname = "site"\n'
        f'type = "http"\ninterval = "1m"\ntimeout = "5s"\nurl = "{server.url("/")}"\n'
        f'ca_file = "{ca_file}"\ncert_warn_days = 14\n'
    )
    app = create_app(config, registry)
    async with app.test_app() as test_app:
        rt: Runtime = app.extensions[EXTENSION]
        await wait_for(lambda: rt.scheduler.states["site"].checks.total() >= 1)
        text = await (await test_app.test_client().get("/metrics")).get_data(as_text=True)
        assert rt.scheduler.states["site"].checks["degraded"] >= 1  # 10 days < cert_warn_days
    samples = {
        (s.name, s.labels.get("monitor")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert 9.9 < samples[("uplight_tls_cert_days_left", "site")] <= 10
    assert ("uplight_tls_cert_not_after_timestamp_seconds", "site") in samples


def test_config_error_names_the_assertion_path(make_config: Callable[[str], Any]) -> None:
    from uplight.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_config(
            '[[monitors]]\nid = "a"\nname = "a"\ntype = "http"\nurl = "http://127.0.0.1/"\n'
            'expect_json = [{ path = "$.ok", exists = true }, { path = "$.[", equals = 1 }]\n'
        )
    assert "monitors[0].expect_json[1].path" in str(caught.value)
    assert "invalid JSONPath" in str(caught.value)
