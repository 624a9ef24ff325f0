"""The ``statuspage`` check: a Statuspage-hosted page's overall indicator.

Reads ``<url>/api/v2/status.json`` (``{"status": {"indicator": "minor",
"description": "Partially Degraded Service"}}``): ``none`` is up, ``minor`` and
``maintenance`` degraded, ``major`` and ``critical`` down; the description is the
message. Fetched like the ``feed`` check: bounded, with the trust options, and
conditionally (``ETag``/``Last-Modified``) so polling is cheap.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from pydantic import Field

from uplight import CheckContext, CheckResult, CheckStatus, CheckType, hookimpl

from .feed import ConditionalFetcher, FetchFailed, FetchOptions

STATUS_PATH = "/api/v2/status.json"
INDICATORS = {
    "none": CheckStatus.UP,
    "minor": CheckStatus.DEGRADED,
    "maintenance": CheckStatus.DEGRADED,
    "major": CheckStatus.DOWN,
    "critical": CheckStatus.DOWN,
}


class StatuspageOptions(FetchOptions):
    # status.json is a few hundred bytes
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1_048_576)


def status_url(url: str) -> str:
    """The status.json address: ``url`` itself when it names a .json, else under it."""
    parsed = httpx.URL(url)
    if parsed.path.endswith(".json"):
        return url
    return str(parsed.copy_with(path=parsed.path.rstrip("/") + STATUS_PATH, query=None))


def parse_status(response: httpx.Response, body: bytes) -> tuple[str, str]:
    """The (indicator, description) of a status.json; raises FetchFailed otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchFailed(f"not a Statuspage status.json: invalid JSON ({exc})") from None
    status = document.get("status") if isinstance(document, dict) else None
    indicator = status.get("indicator") if isinstance(status, dict) else None
    if not isinstance(indicator, str):
        raise FetchFailed("not a Statuspage status.json: no status.indicator")
    description = status.get("description") if isinstance(status, dict) else None
    return indicator, description if isinstance(description, str) else ""


class StatuspageCheck(CheckType):
    name = "statuspage"
    Options = StatuspageOptions
    description = "a Statuspage page's overall indicator (api/v2/status.json)"

    def __init__(self) -> None:
        self._fetcher: ConditionalFetcher[tuple[str, str]] = ConditionalFetcher()

    async def check(self, options: StatuspageOptions, context: CheckContext) -> CheckResult:
        started = time.perf_counter()
        try:
            (indicator, description), unchanged = await self._fetcher.get(
                context.monitor_id,
                status_url(options.url),
                options,
                context.timeout,
                parse_status,
                "application/json",
            )
        except FetchFailed as exc:
            return CheckResult.down(str(exc))
        latency = time.perf_counter() - started
        details = {"indicator": indicator[:40], "not_modified": unchanged}
        message = (description or indicator)[:200]
        status = INDICATORS.get(indicator)
        if status is None:
            # A word Statuspage added after this was written: worth a look, not an outage.
            message = f"unknown indicator {indicator[:40]!r}: {message}"
            status = CheckStatus.DEGRADED
        return CheckResult(status, latency, message, details)

    def public_summary(self, options: StatuspageOptions) -> dict[str, Any]:
        url = httpx.URL(status_url(options.url))
        return {"url": f"{url.scheme}://{url.netloc.decode()}{url.path}"}


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(StatuspageCheck)
