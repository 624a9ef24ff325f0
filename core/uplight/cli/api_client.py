"""How CLI commands talk to a running uplight: the admin API over HTTP."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

from .common import print_json


class ApiFailure(Exception):
    """The API answered with an error envelope (or could not be reached)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("UPLIGHT_URL", "http://127.0.0.1:8080"),
        help="uplight base URL (default: $UPLIGHT_URL or http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("UPLIGHT_TOKEN"),
        help="admin API token (default: $UPLIGHT_TOKEN)",
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON, for scripts")


class ApiClient:
    def __init__(self, base_url: str, token: str | None, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=timeout,
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApiClient:
        if not args.token:
            raise ApiFailure(
                "NO_TOKEN", "give --token or set UPLIGHT_TOKEN (see `uplight token create`)"
            )
        return cls(args.url, args.token)

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        try:
            response = self._client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiFailure(
                "UNREACHABLE", f"cannot reach {self._client.base_url}: {exc}"
            ) from None
        if response.status_code == 204 or not response.content:
            return None
        try:
            body = response.json()
        except ValueError:
            raise ApiFailure(
                "BAD_RESPONSE", f"HTTP {response.status_code}, not JSON", response.status_code
            ) from None
        if response.is_error:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiFailure(
                str(error.get("code", "ERROR")),
                str(error.get("message", response.text)),
                response.status_code,
            )
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def run_api_command(args: argparse.Namespace, action: Any) -> int:
    """Call ``action(client)``; print its JSON with --json; errors → code, message, exit 1.

    ``action`` returns ``(data, printer)``: the API's JSON and a function that
    prints it for people.
    """
    try:
        data, printer = action(ApiClient.from_args(args))
    except ApiFailure as exc:
        if getattr(args, "json", False):
            print_json({"error": {"code": exc.code, "message": exc.message}})
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print_json(data)
    else:
        printer(data)
    return 0
