"""API tokens: list, create (the token shown once, on the answer to the form), revoke.

The same rules as ``uplight token``: a name of 1 to 100 characters, unique. Revoking
a token ends every console session it opened, the current one included.
"""

from __future__ import annotations

from quart import Response, redirect, request

from ...auth.tokens import (
    NAME_MAX,
    TokenExists,
    create_token,
    list_tokens,
    name_problem,
    revoke_token,
)
from ..context import runtime
from .guard import blueprint, current_session, page, to_sign_in


async def _tokens_page(
    *, status: int = 200, error: str = "", created: str = "", created_name: str = "", name: str = ""
) -> Response:
    tokens = await list_tokens(runtime().store)
    return await page(
        "console/tokens.html",
        status,
        tokens=tokens,
        error=error,
        created=created,
        created_name=created_name,
        name=name,
        revoked=request.args.get("revoked", "")[:NAME_MAX],
    )


@blueprint.get("/tokens")
async def tokens() -> Response:
    return await _tokens_page()


@blueprint.post("/tokens")
async def create() -> Response:
    form = await request.form
    name = form.get("name", "").strip()
    problem = name_problem(name)
    if problem is not None:
        return await _tokens_page(status=422, error=problem, name=name[: NAME_MAX * 2])
    try:
        token = await create_token(runtime().store, name)
    except TokenExists:
        return await _tokens_page(
            status=409, error=f"a token named {name!r} exists; revoke it first", name=name
        )
    # The one time the token is on a page: the answer to this form, never cached.
    return await _tokens_page(created=token, created_name=name)


@blueprint.post("/tokens/revoke")
async def revoke() -> Response:
    form = await request.form
    name = form.get("name", "")
    await revoke_token(runtime().store, name)
    if name == current_session().token_name:
        return to_sign_in()  # this session was opened by it: it has ended
    return redirect("/admin/tokens?revoked=1", code=303)
