"""`uplight login` and `uplight logout`: keep an admin API token in the user's token file.

``login`` reads the token without echo (or from stdin with ``--token-stdin``),
asks the server whether it takes it (an authenticated GET) and only then stores
it, for that server's URL, in a file only the user can read (``credentials``).
The token is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from .api_client import ApiClient, ApiFailure, add_server_options, report_failure, server_url
from .credentials import TokenFileError, remove_token, store_token, token_file


def register(sub: argparse._SubParsersAction) -> None:
    login = sub.add_parser(
        "login", help="check an admin API token against the server and store it (mode 0600)"
    )
    add_server_options(login)
    login.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the token from standard input instead of a prompt",
    )
    login.set_defaults(func=cmd_login)

    logout = sub.add_parser("logout", help="forget the stored token for a server")
    add_server_options(logout)
    logout.add_argument("--all", action="store_true", help="forget the tokens of every server")
    logout.set_defaults(func=cmd_logout)


def _read_token(args: argparse.Namespace, url: str) -> str:
    if args.token_stdin:
        return sys.stdin.readline().strip()
    return getpass.getpass(f"Admin API token for {url}: ").strip()


def cmd_login(args: argparse.Namespace) -> int:
    try:
        url = server_url(args)
        token = _read_token(args, url)
        if not token:
            raise ApiFailure("EMPTY_TOKEN", "no token given; nothing stored")
        try:
            ApiClient(url, token).get("/api/v1/monitors")
        except ApiFailure as exc:
            if exc.status == 401:
                raise ApiFailure(
                    exc.code, f"the server at {url} refused this token; nothing stored", 401
                ) from None
            raise
        path = store_token(url, token)
    except TokenFileError as exc:
        return report_failure(ApiFailure("BAD_TOKEN_FILE", str(exc)))
    except ApiFailure as exc:
        return report_failure(exc)
    except OSError as exc:
        return report_failure(ApiFailure("TOKEN_FILE", f"{token_file()}: {exc}"))
    print(f"logged in to {url}; the token is stored in {path} (readable by you only)")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    try:
        url = None if args.all else server_url(args)
        removed = remove_token(url)
    except TokenFileError as exc:
        return report_failure(ApiFailure("BAD_TOKEN_FILE", str(exc)))
    except ApiFailure as exc:
        return report_failure(exc)
    what = "every server" if url is None else url
    if removed:
        # The token itself still works until revoked on the server.
        print(f"logged out of {what}: token removed from {token_file()}")
    else:
        print(f"no token stored for {what} in {token_file()}")
    return 0
