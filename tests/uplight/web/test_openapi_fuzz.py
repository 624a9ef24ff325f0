"""Property-based run of the whole API against its own OpenAPI document.

A real `uplight serve` process, a real token; schemathesis generates valid and
invalid requests for every documented operation and checks: no 5xx, status
codes, content types and bodies match the document; and every path's ``Allow``
header (OPTIONS, and a 405) names exactly the methods the document gives it.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from helpers import create_token, free_port, serving
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "uplight.db"
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "2s"
timeout = "1s"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "2s"
timeout = "1s"
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
"""


def _serve(factory: pytest.TempPathFactory, extra: str = "") -> Iterator[tuple[str, str]]:
    folder: Path = factory.mktemp("fuzz")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port, dead=free_port()) + extra)
    token = create_token(config, "fuzz")
    with serving(config, port, log_level="error"):
        yield f"http://127.0.0.1:{port}", token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def unlimited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    # The fuzzing spends the public routes' rate limit; this test must not depend on
    # running first.
    yield from _serve(tmp_path_factory, "[public.rate_limit]\nenabled = false\n")


EXAMPLES = int(os.environ.get("UPLIGHT_FUZZ_EXAMPLES", "25"))
# The same examples on every run by default, so CI is stable; UPLIGHT_FUZZ_RANDOM=1
# explores new ones (what a fuzzing session on a developer's machine should do).
RANDOM = os.environ.get("UPLIGHT_FUZZ_RANDOM") == "1"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(server: tuple[str, str], mode: GenerationMode) -> None:
    base, token = server
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 2

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            derandomize=not RANDOM,
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:
            # Valid-by-schema bodies can still break a rule JSON Schema cannot state
            # (ends_at after starts_at, ids that exist): those answer 4xx by design.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()


# A value for each path parameter; OPTIONS and a 405 never reach the view, so they
# need not exist.
PATH_VALUES = {"page": "main", "target_id": "web"}


def _request(url: str, method: str, token: str) -> tuple[int, set[str]]:
    request = urllib.request.Request(
        url, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, allow = response.status, response.headers.get("Allow", "")
    except urllib.error.HTTPError as error:
        status, allow = error.code, error.headers.get("Allow", "")
    return status, {m.strip() for m in allow.split(",") if m.strip()}


def test_allow_headers_match_the_document(unlimited_server: tuple[str, str]) -> None:
    """Issue 10, point 23: a route advertises only what it serves (``components/reorder``
    once advertised PATCH and DELETE, the methods of ``components/{target_id}``)."""
    base, token = unlimited_server
    with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=10) as response:
        document = json.load(response)
    checked = 0
    for template, operations in document["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), template)
        documented = {method.upper() for method in operations}
        expected = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
        status, allowed = _request(base + path, "OPTIONS", token)
        assert status == 200, (template, status)
        assert allowed == expected, (template, allowed, expected)
        unused = next(m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in documented)
        status, allowed = _request(base + path, unused, token)
        assert status == 405 and allowed == expected, (template, unused, status, allowed)
        checked += 1
    assert checked == len(document["paths"]) >= 10
