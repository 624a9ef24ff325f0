"""Driving the console like a browser: fetch the form, post it with its CSRF token."""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


async def text(response: Any) -> str:
    return (await response.get_data()).decode()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


async def sign_in(client: Any, token: str) -> Any:
    form = await client.get("/admin/sign-in")
    assert form.status_code == 200
    return await client.post(
        "/admin/sign-in", form={"csrf": csrf_of(await text(form)), "token": token}
    )


async def signed_in(client: Any, token: str) -> str:
    """Sign in; the overview's CSRF token for later forms."""
    response = await sign_in(client, token)
    assert response.status_code == 303, await text(response)
    assert response.headers["Location"] == "/admin"
    home = await client.get("/admin")
    assert home.status_code == 200
    return csrf_of(await text(home))
