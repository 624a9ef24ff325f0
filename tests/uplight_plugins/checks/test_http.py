"""The http check against real servers on 127.0.0.1 (HTTP, HTTPS, garbage, refused)."""

from __future__ import annotations

import base64
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import trustme
from servers import GarbageServer, HttpServer, Route, refused_port

from uplight import CheckContext, CheckResult, CheckStatus
from uplight_plugins.checks.http import HttpCheck, HttpOptions, uplight_check_types

Serve = Callable[..., HttpServer]

pytestmark = pytest.mark.timeout(10)


async def run(timeout: float = 1.0, **options: Any) -> CheckResult:
    validated = HttpOptions.model_validate(options)
    return await HttpCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))


def test_registers_the_http_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [HttpCheck]
    assert HttpCheck.name == "http"


async def test_up_on_200(serve: Serve) -> None:
    server = serve({"/": Route(200, "hello")})
    result = await run(url=server.url("/"))
    assert result.status is CheckStatus.UP
    assert result.message.startswith("200 OK in ")
    assert result.latency is not None and result.latency > 0
    assert result.details["status_code"] == 200
    assert result.details["redirects"] == 0
    assert result.details["body_bytes_read"] == 5
    assert set(result.details) == {"status_code", "phases", "redirects", "body_bytes_read"}


@pytest.mark.parametrize(
    ("expect_status", "served", "status"),
    [
        (204, 204, CheckStatus.UP),
        ("204", 204, CheckStatus.UP),
        ("2xx", 204, CheckStatus.UP),
        ([200, "4xx"], 404, CheckStatus.UP),
        ([200, "4xx"], 500, CheckStatus.DOWN),
        (["200"], 201, CheckStatus.DOWN),
        ("5xx", 503, CheckStatus.UP),
    ],
)
async def test_expect_status(
    serve: Serve, expect_status: Any, served: int, status: CheckStatus
) -> None:
    server = serve({"/": Route(served)})
    result = await run(url=server.url("/"), expect_status=expect_status)
    assert result.status is status
    assert result.details["status_code"] == served


async def test_unexpected_status_message(serve: Serve) -> None:
    server = serve({"/": Route(503, "maintenance")})
    result = await run(url=server.url("/"))
    assert result.status is CheckStatus.DOWN
    assert result.message == "expected status 2xx, got 503 Service Unavailable"
    assert result.latency is not None


async def test_unexpected_status_lists_every_expectation(serve: Serve) -> None:
    server = serve({"/": Route(201)})
    result = await run(url=server.url("/"), expect_status=[200, "3xx"])
    assert result.message == "expected status 200, 3xx, got 201 Created"


@pytest.mark.parametrize(
    ("options", "status", "fragment"),
    [
        ({"body_contains": "healthy"}, CheckStatus.UP, "200 OK"),
        ({"body_contains": ["healthy", "db=ok"]}, CheckStatus.UP, "200 OK"),
        ({"body_contains": ["healthy", "cache=ok"]}, CheckStatus.DOWN, "'cache=ok'"),
        ({"body_not_contains": "error"}, CheckStatus.UP, "200 OK"),
        ({"body_not_contains": ["error", "db=ok"]}, CheckStatus.DOWN, "forbidden 'db=ok'"),
        ({"body_regex": r"version=\d+\.\d+"}, CheckStatus.UP, "200 OK"),
        ({"body_regex": r"^healthy"}, CheckStatus.UP, "200 OK"),
        ({"body_regex": r"version=\d+\.\d+\.\d+"}, CheckStatus.DOWN, "does not match regex"),
    ],
)
async def test_body_expectations(
    serve: Serve, options: dict[str, Any], status: CheckStatus, fragment: str
) -> None:
    server = serve({"/health": Route(200, "healthy db=ok version=1.4")})
    result = await run(url=server.url("/health"), **options)
    assert result.status is status
    assert fragment in result.message


async def test_missing_keyword_message_is_truncated(serve: Serve) -> None:
    server = serve({"/": Route(200, "short")})
    result = await run(url=server.url("/"), body_contains="x" * 500)
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("body does not contain 'xxx")
    assert len(result.message) < 80


async def test_body_is_decoded_with_the_declared_charset(serve: Serve) -> None:
    body = "état: prêt".encode("latin-1")
    server = serve({"/": Route(200, body, {"Content-Type": "text/plain; charset=latin-1"})})
    assert (await run(url=server.url("/"), body_contains="prêt")).status is CheckStatus.UP


async def test_max_body_bytes_limits_what_is_read(serve: Serve) -> None:
    server = serve({"/big": Route(200, "a" * 1000 + "NEEDLE")})
    result = await run(url=server.url("/big"), body_contains="NEEDLE", max_body_bytes=100)
    assert result.status is CheckStatus.DOWN
    assert "does not contain 'NEEDLE'" in result.message
    assert result.details["body_bytes_read"] == 100
    result = await run(url=server.url("/big"), body_contains="NEEDLE", max_body_bytes=2000)
    assert result.status is CheckStatus.UP
    assert result.details["body_bytes_read"] == 1006


async def test_timeout_is_down_and_bounded(serve: Serve) -> None:
    server = serve({"/slow": Route(200, "late", delay=3)})
    started = time.monotonic()
    result = await run(timeout=0.5, url=server.url("/slow"))
    assert time.monotonic() - started < 1.5
    assert result.status is CheckStatus.DOWN
    assert result.message == "timed out after 0.5s (waiting for response)"
    assert result.latency is None
    assert "connect" in result.details["phases"]


async def test_slow_answer_is_degraded(serve: Serve) -> None:
    server = serve({"/": Route(200, "ok", delay=0.3)})
    result = await run(url=server.url("/"), response_time_degraded="100ms")
    assert result.status is CheckStatus.DEGRADED
    assert result.message.startswith("response took 0.")
    assert result.message.endswith("(threshold 0.1s)")
    assert result.latency is not None and result.latency >= 0.3


async def test_fast_answer_under_threshold_is_up(serve: Serve) -> None:
    server = serve({"/": Route(200, "ok")})
    result = await run(url=server.url("/"), response_time_degraded="5s")
    assert result.status is CheckStatus.UP


async def test_failed_expectation_beats_degraded(serve: Serve) -> None:
    server = serve({"/": Route(500, delay=0.2)})
    result = await run(url=server.url("/"), response_time_degraded="10ms")
    assert result.status is CheckStatus.DOWN


async def test_https_with_ca_file(https: Callable[..., HttpServer], ca_file: Path) -> None:
    server = https({"/": Route(200, "secure")})
    result = await run(url=server.url("/"), ca_file=str(ca_file), body_contains="secure")
    assert result.status is CheckStatus.UP, result.message
    phases = result.details["phases"]
    assert set(phases) == {"connect", "tls", "ttfb"}
    assert all(value >= 0 for value in phases.values())


async def test_each_check_connects_anew_and_the_ca_file_is_loaded_once(
    https: Callable[..., HttpServer], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if kwargs.get("cafile") == str(ca_file):
            loaded.append(kwargs["cafile"])
        return real(*args, **kwargs)

    server = https({"/": Route(200, "secure")})
    options = HttpOptions.model_validate({"url": server.url("/"), "ca_file": str(ca_file)})
    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(3):
        result = await HttpCheck().check(options, CheckContext(monitor_id="m", timeout=1.0))
        assert result.status is CheckStatus.UP, result.message
        # What the check measures: a connect and a handshake of its own, every time.
        assert {"connect", "tls", "ttfb"} <= set(result.details["phases"])
    assert len(server.requests) == 3
    assert loaded == [str(ca_file)]


async def test_https_with_localhost_name(https: Callable[..., HttpServer], ca_file: Path) -> None:
    server = https({"/": Route(200)}, "localhost")
    result = await run(url=server.url("/", host="localhost"), ca_file=str(ca_file))
    assert result.status is CheckStatus.UP, result.message


async def test_unknown_ca_with_default_trust_is_down(https: Callable[..., HttpServer]) -> None:
    server = https({"/": Route(200)})
    result = await run(url=server.url("/"))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS error: certificate verify failed: ")
    assert "local issuer" in result.message or "self-signed" in result.message


async def test_ca_file_replaces_default_trust(
    https: Callable[..., HttpServer], tmp_path: Path
) -> None:
    server = https({"/": Route(200)})
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    result = await run(url=server.url("/"), ca_file=str(other))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS error: certificate verify failed")


async def test_verify_tls_false_accepts_unknown_ca(https: Callable[..., HttpServer]) -> None:
    server = https({"/": Route(200, "ok")})
    result = await run(url=server.url("/"), verify_tls=False)
    assert result.status is CheckStatus.UP, result.message
    assert "tls" in result.details["phases"]


async def test_hostname_mismatch_is_down(https: Callable[..., HttpServer], ca_file: Path) -> None:
    server = https({"/": Route(200)}, "example.test")
    result = await run(url=server.url("/"), ca_file=str(ca_file))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS error: certificate verify failed")
    assert "mismatch" in result.message


async def test_https_to_plain_http_port_is_a_tls_error(serve: Serve) -> None:
    server = serve({"/": Route(200)})
    result = await run(url=server.url("/").replace("http://", "https://"))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS error")


REDIRECTS = {
    "/old": Route(302, headers={"Location": "/new"}),
    "/new": Route(200, "arrived"),
    "/loop": Route(302, headers={"Location": "/loop"}),
}


async def test_redirect_followed(serve: Serve) -> None:
    server = serve(REDIRECTS)
    result = await run(url=server.url("/old"), body_contains="arrived")
    assert result.status is CheckStatus.UP, result.message
    assert result.details["redirects"] == 1
    assert [r.path for r in server.requests] == ["/old", "/new"]


async def test_redirect_not_followed_is_judged_as_is(serve: Serve) -> None:
    server = serve(REDIRECTS)
    result = await run(url=server.url("/old"), follow_redirects=False)
    assert result.status is CheckStatus.DOWN
    assert result.message == "expected status 2xx, got 302 Found"
    result = await run(url=server.url("/old"), follow_redirects=False, expect_status=302)
    assert result.status is CheckStatus.UP
    assert [r.path for r in server.requests] == ["/old", "/old"]


async def test_redirect_loop_is_down(serve: Serve) -> None:
    server = serve(REDIRECTS)
    result = await run(url=server.url("/loop"))
    assert result.status is CheckStatus.DOWN
    assert result.message == "too many redirects (more than 10)"


async def test_connection_refused() -> None:
    port = refused_port()
    result = await run(url=f"http://127.0.0.1:{port}/")
    assert result.status is CheckStatus.DOWN
    assert result.message == f"connection refused by 127.0.0.1:{port}"
    assert result.latency is None


async def test_dns_failure_is_down_without_exception() -> None:
    result = await run(timeout=2, url="http://does-not-exist.invalid/")
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(("DNS lookup failed for does-not-exist.invalid:80", "timed"))


async def test_garbage_answer_is_down() -> None:
    with GarbageServer() as server:
        result = await run(url=f"http://127.0.0.1:{server.port}/")
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(f"invalid HTTP response from 127.0.0.1:{server.port}: ")


async def test_silent_close_is_down() -> None:
    with GarbageServer(reply=b"") as server:
        result = await run(url=f"http://127.0.0.1:{server.port}/")
    assert result.status is CheckStatus.DOWN
    assert "invalid HTTP response" in result.message


async def test_phases_for_plain_http(serve: Serve) -> None:
    server = serve({"/": Route(200, delay=0.1)})
    result = await run(url=server.url("/"))
    phases = result.details["phases"]
    assert set(phases) == {"connect", "ttfb"}
    assert 0 <= phases["connect"] < 0.5
    assert 0.1 <= phases["ttfb"] <= result.latency


async def test_each_check_opens_a_new_connection(serve: Serve) -> None:
    server = serve({"/": Route(200)})
    for _ in range(2):
        assert "connect" in (await run(url=server.url("/"))).details["phases"]


async def test_headers_and_basic_auth_are_sent_but_never_reported(serve: Serve) -> None:
    server = serve({"/": Route(500)})
    result = await run(
        url=server.url("/"),
        headers={"X-Api-Key": "key-123456", "User-Agent": "probe/1"},
        basic_auth={"username": "admin", "password": "hunter2-secret"},
    )
    sent = server.requests[0].headers
    assert sent["x-api-key"] == "key-123456"
    assert sent["user-agent"] == "probe/1"
    assert sent["authorization"] == "Basic " + base64.b64encode(b"admin:hunter2-secret").decode()
    assert result.status is CheckStatus.DOWN
    reported = repr(result)
    for secret in ("key-123456", "hunter2-secret", "YWRtaW46"):
        assert secret not in reported


async def test_default_user_agent(serve: Serve) -> None:
    server = serve({"/": Route(200)})
    await run(url=server.url("/"))
    assert server.requests[0].headers["user-agent"].startswith("uplight/")


async def test_secret_header_from_env(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLIGHT_TEST_TOKEN", "from-env")
    server = serve({"/": Route(200)})
    await run(url=server.url("/"), headers={"Authorization": {"env": "UPLIGHT_TEST_TOKEN"}})
    assert server.requests[0].headers["authorization"] == "from-env"


async def test_url_credentials_are_sent_but_not_reported(serve: Serve) -> None:
    server = serve({"/": Route(200)})
    url = server.url("/").replace("http://", "http://bob:s3cr3t-pw@")
    result = await run(url=url)
    assert result.status is CheckStatus.UP
    assert server.requests[0].headers["authorization"].startswith("Basic ")
    port = refused_port()
    result = await run(url=f"http://bob:s3cr3t-pw@127.0.0.1:{port}/")
    assert result.status is CheckStatus.DOWN
    assert "s3cr3t" not in repr(result) and "bob" not in result.message


async def test_configured_headers_do_not_follow_a_redirect_elsewhere(serve: Serve) -> None:
    target = serve({"/landing": Route(200)})
    origin = serve(
        {
            "/away": Route(302, headers={"Location": target.url("/landing")}),
            "/here": Route(302, headers={"Location": "/landing"}),
            "/landing": Route(200),
        }
    )
    headers = {"X-Token": "tok-abc"}
    assert (await run(url=origin.url("/away"), headers=headers)).status is CheckStatus.UP
    assert "x-token" not in target.requests[0].headers
    assert (await run(url=origin.url("/here"), headers=headers)).status is CheckStatus.UP
    assert origin.requests[-1].path == "/landing"
    assert origin.requests[-1].headers["x-token"] == "tok-abc"


@pytest.mark.parametrize("method", ["POST", "put", "PATCH", "DELETE", "OPTIONS"])
async def test_method_and_body_are_sent(serve: Serve, method: str) -> None:
    server = serve({"/api": Route(200)})
    result = await run(url=server.url("/api"), method=method, body='{"ping": true}')
    assert result.status is CheckStatus.UP
    assert server.requests[0].method == method.upper()
    assert server.requests[0].body == b'{"ping": true}'


async def test_head_request(serve: Serve) -> None:
    server = serve({"/": Route(200, "ignored")})
    result = await run(url=server.url("/"), method="HEAD")
    assert result.status is CheckStatus.UP
    assert server.requests[0].method == "HEAD"
    assert result.details["body_bytes_read"] == 0


async def test_ca_file_removed_after_load_is_down(
    https: Callable[..., HttpServer], ca_file: Path
) -> None:
    server = https({"/": Route(200)})
    options = HttpOptions.model_validate({"url": server.url("/"), "ca_file": str(ca_file)})
    os.unlink(ca_file)  # between config load and check
    result = await HttpCheck().check(options, CheckContext(monitor_id="m", timeout=1))
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("cannot load ca_file")


def test_public_summary_leaves_out_credentials_and_query() -> None:
    options = HttpOptions.model_validate({"url": "https://u:p@example.com:8443/x?token=t"})
    summary = HttpCheck().public_summary(options)
    assert summary == {"url": "https://example.com:8443/x", "method": "GET"}


def test_option_defaults_and_normalisation() -> None:
    options = HttpOptions.model_validate(
        {
            "url": "http://example.com",
            "method": "post",
            "expect_status": ["2XX", 301],
            "body_contains": "ok",
            "response_time_degraded": "500ms",
        }
    )
    assert options.method == "POST"
    assert options.expect_status == ("2xx", "301")
    assert options.body_contains == ("ok",)
    assert options.response_time_degraded == 0.5
    defaults = HttpOptions.model_validate({"url": "https://example.com"})
    assert defaults.expect_status == ("2xx",)
    assert defaults.follow_redirects and defaults.verify_tls
    assert defaults.max_body_bytes == 1_048_576
    assert defaults.headers == {} and defaults.body_not_contains == ()


def test_secrets_are_masked_in_options() -> None:
    options = HttpOptions.model_validate(
        {
            "url": "http://example.com",
            "headers": {"Authorization": "Bearer abc"},
            "basic_auth": {"username": "u", "password": "pw-xyz"},
        }
    )
    assert "Bearer abc" not in repr(options) and "pw-xyz" not in repr(options)


@pytest.mark.parametrize(
    ("options", "loc", "fragment"),
    [
        ({"url": "ftp://example.com/"}, ("url",), "http:// or https://"),
        ({"url": "example.com"}, ("url",), "http:// or https://"),
        ({"url": "http://"}, ("url",), "http"),
        ({"url": "http://exa mple.com/"}, ("url",), "white space"),
        ({"url": "http://example.com/a b"}, ("url",), "white space"),
        ({"url": "http://ex%41mple.com/"}, ("url",), "host"),
        ({"url": "http://example.com:99999/"}, ("url",), "1 to 65535"),
        ({"url": "http://[::1/"}, ("url",), "valid URL"),
        ({"method": "FETCH"}, ("method",), "GET"),
        ({"expect_status": [200, "6xx"]}, ("expect_status", 1), "invalid status '6xx'"),
        ({"expect_status": 99}, ("expect_status", 0), "invalid status 99"),
        ({"expect_status": "2xxx"}, ("expect_status", 0), "invalid status"),
        ({"expect_status": [True]}, ("expect_status", 0), "invalid status"),
        ({"expect_status": []}, ("expect_status",), "at least 1"),
        ({"body_regex": "(unclosed"}, ("body_regex",), "invalid regular expression"),
        ({"body_contains": [""]}, ("body_contains", 0), "at least 1"),
        ({"ca_file": "/nonexistent/ca.pem"}, ("ca_file",), "file not found"),
        ({"response_time_degraded": "fast"}, ("response_time_degraded",), "invalid duration"),
        ({"max_body_bytes": 0}, ("max_body_bytes",), "greater than or equal to 1"),
        ({"headers": {"Bad Name": "x"}}, ("headers",), "invalid header name"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, ("headers",), "line breaks"),
        ({"headers": {"X-A": {"env": "UPLIGHT_UNSET_VAR_XYZ"}}}, ("headers", "X-A"), "not set"),
        ({"basic_auth": {"username": "a"}}, ("basic_auth", "password"), "required"),
        ({"method": "HEAD", "body_contains": "x"}, (), "other than HEAD"),
        ({"verify_tls": False, "ca_file": __file__}, ("ca_file",), "PEM"),
        ({"bogus": 1}, ("bogus",), "Extra inputs"),
    ],
)
def test_invalid_options(options: dict[str, Any], loc: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        HttpOptions.model_validate({"url": "http://example.com", **options})
    errors = info.value.errors()
    assert any(e["loc"] == loc and fragment in e["msg"] for e in errors), errors


def test_contradictory_tls_options(ca_file: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="no effect with verify_tls"):
        HttpOptions.model_validate(
            {"url": "https://example.com", "verify_tls": False, "ca_file": str(ca_file)}
        )


def test_credentials_in_url_and_basic_auth_conflict() -> None:
    with pytest.raises(pydantic.ValidationError, match="not both"):
        HttpOptions.model_validate(
            {"url": "http://a:b@example.com", "basic_auth": {"username": "a", "password": "b"}}
        )


def test_validation_error_does_not_echo_url_credentials() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        HttpOptions.model_validate({"url": "ftp://user:pw-777@example.com"})
    assert "pw-777" not in info.value.errors()[0]["msg"]
