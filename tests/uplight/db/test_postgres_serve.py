"""`uplight serve` with ``storage.url`` on the harness's real PostgreSQL server: the page
is served, results are recorded, and a restart keeps them."""

from __future__ import annotations

from pathlib import Path

import httpx
from helpers import create_token, free_port, serving, wait_until
from servers import HttpServer, Route
from stored import count_results, raw


def _config(tmp_path: Path, port: int, target: str, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:{port}"
[storage]
url = "{url}"
[scheduler]
max_jitter = "0s"
[public]
cache_ttl = "200ms"
[[monitors]]
id = "site"
name = "Site"
type = "http"
interval = "1s"
url = "{target}"
[[pages]]
slug = "main"
title = "On PostgreSQL"
[[pages.components]]
monitor = "site"
"""
    )
    return path


def test_serve_on_postgres_records_results_and_keeps_them_across_a_restart(
    tmp_path: Path, postgres_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with HttpServer({"/": Route(200, "ok")}) as target:
        config = _config(tmp_path, port, target.url(), postgres_url)
        token = create_token(config)  # the CLI opens the same database
        with serving(config, port):
            wait_until(lambda: 'data-status="operational"' in httpx.get(f"{base}/status").text)
            answer = httpx.get(
                f"{base}/api/v1/monitors/site", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
        first = count_results(postgres_url)
        assert first >= 1
        assert raw(postgres_url, "SELECT sum(checks_total) FROM daily_rollups") == [(first,)]
        assert not (tmp_path / "data").exists()  # no SQLite file made on the side

        with serving(config, port):
            assert 'data-status="operational"' in httpx.get(f"{base}/status").text
            wait_until(lambda: count_results(postgres_url) > first)
    names = raw(postgres_url, "SELECT count(*) FROM migrations")
    assert names[0][0] >= 12
