"""The headers hypercorn adds to every response under `uplight serve`: a ``Date``
(formatted once a second rather than per response) and no ``Server``."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path
from wsgiref.handlers import format_date_time

import httpx
import pytest
from helpers import free_port, serving

from uplight.config import Config
from uplight.web import serve


def _config() -> object:
    return serve.hypercorn_config(Config.model_validate({}))


def test_one_date_header_per_second_and_no_server_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_700_000_000.25]
    monkeypatch.setattr(serve, "time", lambda: now[0])
    hc = _config()
    first = hc.response_headers("h11")  # type: ignore[attr-defined]
    assert first == [(b"date", format_date_time(now[0]).encode())]
    assert first[0][1] == b"Tue, 14 Nov 2023 22:13:20 GMT"
    now[0] += 0.7  # the same second
    assert hc.response_headers("h11") == first  # type: ignore[attr-defined]
    now[0] += 0.1  # the next one
    assert hc.response_headers("h11") == [(b"date", b"Tue, 14 Nov 2023 22:13:21 GMT")]  # type: ignore[attr-defined]
    # Each call its own list: hypercorn extends some of them.
    assert hc.response_headers("h11") is not hc.response_headers("h11")  # type: ignore[attr-defined]


def test_hypercorn_s_own_headers_when_it_advertises_http3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hc = _config()
    hc.alt_svc_headers = ['h3=":443"']  # type: ignore[attr-defined]
    names = [name for name, _ in hc.response_headers("h11")]  # type: ignore[attr-defined]
    assert names == [b"date", b"alt-svc"]


def test_a_served_response_has_a_current_date_and_no_server(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\n[storage]\npath = "{tmp_path / "u.db"}"\n'
        '[[pages]]\nslug = "main"\ntitle = "Status"\n'
    )
    with serving(config, port):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for path in ("/healthz", "/status", "/status"):  # a Quart route; the page, cached
                before = int(time.time())
                response = client.get(path)
                after = time.time()
                assert response.status_code == 200, path
                assert "server" not in response.headers, path
                sent = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
                assert before <= sent <= after, (path, response.headers["date"])
