"""How CLI commands talk to a running uplight: the admin API over HTTP.

Which server: ``--url``, else ``$UPLIGHT_URL``, else the config file
(``--config``, else ``$UPLIGHT_CONFIG`` or ``./config.toml`` when that file
exists): its ``[server] public_base_url``, else its ``listen`` address (a
wildcard one means this machine), else ``http://127.0.0.1:8080``. Which token:
``--token``, else ``$UPLIGHT_TOKEN``, else the one ``uplight login`` stored for
that server (``credentials``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx

from ..config import ServerConfig, parse_listen
from .common import default_config_path, print_json
from .credentials import TokenFileError, stored_token, token_file

DEFAULT_URL = "http://127.0.0.1:8080"
# Where a server bound to every interface is reached from the same machine.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class ApiFailure(Exception):
    """The API answered with an error envelope (or could not be reached)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--url`` and ``--config``: where the server is (see the module's docstring)."""
    parser.add_argument(
        "--url",
        help="uplight base URL (default: $UPLIGHT_URL, else from the config file,"
        f" else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="PATH",
        help="find the server from this config's [server] table when no --url or"
        " $UPLIGHT_URL is given (default: $UPLIGHT_CONFIG or config.toml, if it exists)",
    )


def add_api_options(parser: argparse.ArgumentParser) -> None:
    add_server_options(parser)
    parser.add_argument(
        "--token",
        help="admin API token (default: $UPLIGHT_TOKEN, else the one `uplight login` stored)",
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON, for scripts")


def server_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if url := os.environ.get("UPLIGHT_URL"):
        return url
    path = args.config if args.config is not None else default_config_path()
    if args.config is not None or path.is_file():
        return url_from_config(path)
    return DEFAULT_URL


def url_from_config(path: Path) -> str:
    """The URL of the server a config file describes: only its ``[server]`` table is
    read, so a config whose secrets live elsewhere (env, files) still answers."""
    try:
        with path.open("rb") as file:
            table = tomllib.load(file).get("server", {})
    except FileNotFoundError:
        raise ApiFailure("BAD_CONFIG", f"--config {path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ApiFailure("BAD_CONFIG", f"{path}: {exc}") from None
    if not isinstance(table, dict):
        raise ApiFailure("BAD_CONFIG", f"{path}: server: must be a table")
    public = table.get("public_base_url")
    if public:
        if not isinstance(public, str) or not public.startswith(("http://", "https://")):
            raise ApiFailure(
                "BAD_CONFIG", f"{path}: server.public_base_url: must be an http(s):// URL"
            )
        return public.rstrip("/")
    # As `serve` does: $UPLIGHT_LISTEN moves the server away from the file's address.
    listen = os.environ.get("UPLIGHT_LISTEN") or table.get(
        "listen", ServerConfig.model_fields["listen"].default
    )
    try:
        if not isinstance(listen, str):
            raise ValueError('must be a string, "host:port"')
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise ApiFailure("BAD_CONFIG", f"{path}: server.listen: {exc}") from None
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def api_token(args: argparse.Namespace, url: str) -> str:
    token = args.token or os.environ.get("UPLIGHT_TOKEN")
    if token:
        return str(token)
    try:
        token = stored_token(url)
    except TokenFileError as exc:
        raise ApiFailure("BAD_TOKEN_FILE", str(exc)) from None
    if token is None:
        raise ApiFailure(
            "NO_TOKEN",
            f"give --token, set UPLIGHT_TOKEN or run `uplight login --url {url}`"
            f" (no token stored for {url} in {token_file()}; see `uplight token create`)",
        )
    return token


class ApiClient:
    def __init__(self, base_url: str, token: str | None, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=timeout,
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApiClient:
        url = server_url(args)
        return cls(url, api_token(args, url))

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
        return report_failure(exc, as_json=getattr(args, "json", False))
    if args.json:
        print_json(data)
    else:
        printer(data)
    return 0


def report_failure(exc: ApiFailure, *, as_json: bool = False) -> int:
    """The error for people on stderr (and its envelope on stdout with --json); exit 1."""
    if as_json:
        print_json({"error": {"code": exc.code, "message": exc.message}})
    print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
    return 1
