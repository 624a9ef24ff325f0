"""Pages: every status page, and the page editor (the seed's "toggle a monitor on the
page, set a public name and a group").

Every write goes through the ``PageEditor`` the components API uses
(``/api/v1/status-pages/<slug>/components…``), after the API's own request models
have checked the fields, and its refusals are put into words by the API's own
mapping: a message reads the same here as from the API, beside its field. As after
an API write, the page cache is refreshed, so the public page shows an edit at once
(and a new component's badge loads).

Each monitor's row is one form. Without JavaScript its Save button posts it and the
answer is the editor again (303 after a save, 422 with the errors beside their
fields); ``page_editor.js`` posts the same form with ``fetch`` on change and asks for
JSON (``Accept: application/json``). Up and down buttons post to their own routes;
dragging posts the whole order. Pages provisioned from the config are shown
read-only; a write to one is refused with the API's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Response, jsonify, redirect, request

from ...config import ID_PATTERN
from ...pages.editing import PageEditor
from ...pages.models import StoredComponent, StoredPage
from ..api.page_models import PageComponentCreate, PageComponentPatch
from ..api.pages import domain_errors, provisioned_error
from ..context import runtime
from ..errors import ApiError
from .badges import Snippet, component_snippet, page_snippet
from .guard import blueprint, page, refused

FIELDS = ("public_name", "public_description", "public_group")
ON_PAGE = "on_page"
# The API names a monitor ``target_id``; here it is the row's on-page toggle.
FIELD_OF = {"target_id": ON_PAGE, "target_ids": "order"}

NO_PAGE = "There is no status page with that slug."

Errors = dict[str, str]


class Refusal(Exception):
    """A write refused as a whole (no such page, a provisioned page): a page, not a field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Row:
    """One monitor in the editor: on the page (``component``) or not."""

    monitor_id: str
    name: str  # the monitor's name in the config (its id when the config lost it)
    in_config: bool
    component: StoredComponent | None
    snippet: Snippet | None
    values: dict[str, str]
    errors: Errors = field(default_factory=dict)
    first: bool = False
    last: bool = False


def _editor() -> PageEditor:
    return runtime().page_editor


def _base_url() -> str:
    return runtime().config.server.public_base_url


def _valid_id(value: str) -> bool:
    return re.fullmatch(ID_PATTERN, value) is not None


def live_path(page: StoredPage) -> str:
    """The page on this server, whatever Host the console is reached by."""
    return "/status" if page.default else f"/status/pages/{page.slug}"


def provisioned_note(page: StoredPage) -> str:
    return provisioned_error(page.slug, page.config_index).message


def wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


async def _page_or_none(slug: str) -> StoredPage | None:
    return await _editor().page(slug) if _valid_id(slug) else None


async def _no_page() -> Response:
    return await refused(NO_PAGE, 404)


def _shown_name(monitor_id: str, component: StoredComponent | None) -> str:
    if component is not None and component.public_name:
        return component.public_name
    monitor = runtime().config.monitor(monitor_id)
    return monitor.name if monitor is not None else monitor_id


def _snippet_of(page: StoredPage, component: StoredComponent | None) -> Snippet | None:
    if component is None:
        return None
    return component_snippet(
        _base_url(), page, component, _shown_name(component.monitor_id, component)
    )


def _stored_values(component: StoredComponent | None) -> dict[str, str]:
    if component is None:
        return dict.fromkeys(FIELDS, "")
    return {name: getattr(component, name) or "" for name in FIELDS}


def _rows(
    page: StoredPage, typed: dict[str, str] | None, typed_for: str, errors: Errors
) -> list[Row]:
    """The page's components in their order, then every other monitor of the config."""
    config = runtime().config
    on_page = [c.monitor_id for c in page.components]
    others = [m.id for m in config.monitors if page.component(m.id) is None]
    rows = []
    for index, monitor_id in enumerate(on_page + others):
        component = page.component(monitor_id)
        monitor = config.monitor(monitor_id)
        mine = monitor_id == typed_for
        rows.append(
            Row(
                monitor_id=monitor_id,
                name=monitor.name if monitor is not None else monitor_id,
                in_config=monitor is not None,
                component=component,
                snippet=_snippet_of(page, component),
                values=typed if mine and typed is not None else _stored_values(component),
                errors=errors if mine else {},
                first=index == 0,
                last=index == len(on_page) - 1,
            )
        )
    return rows


async def _editor_page(
    page_row: StoredPage,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    typed_for: str = "",
    errors: Errors | None = None,
) -> Response:
    saved = request.args.get("saved", "")
    return await page(
        "console/page_editor.html",
        status,
        page=page_row,
        rows=_rows(page_row, typed, typed_for, errors or {}),
        snippet=page_snippet(_base_url(), page_row),
        live=live_path(page_row),
        note=provisioned_note(page_row) if page_row.provisioned else "",
        saved=saved if _valid_id(saved) else "",
        order_error=(errors or {}).get("order", "") if not typed_for else "",
    )


# -- reads ----------------------------------------------------------------------


@blueprint.get("/pages")
async def pages() -> Response:
    found = await _editor().pages()
    return await page("console/pages.html", pages=found, live_path=live_path)


@blueprint.get("/pages/<slug>")
async def page_editor(slug: str) -> Response:
    found = await _page_or_none(slug)
    if found is None:
        return await _no_page()
    return await _editor_page(found)


# -- writes ---------------------------------------------------------------------


def _validated(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, Errors]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        found: Errors = {}
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "form"
            found.setdefault(FIELD_OF.get(name, name), error["msg"])
        return None, found


def _api_refusal(exc: ApiError) -> Errors:
    """The API's envelope for a refusal → the field it names, or the whole write."""
    if exc.field is None:
        raise Refusal(exc.status, exc.message)
    message = exc.message.removeprefix(f"{exc.field}: ")
    name = exc.field.split("[", 1)[0]
    return {FIELD_OF.get(name, name): message}


async def save_row(slug: str, monitor_id: str, form: Any) -> tuple[StoredPage, Errors]:
    """Put the monitor on the page, change its fields, or take it off, as the row says.

    A blank field clears it (the public name goes back to the monitor's name)."""
    found = await _page_or_none(slug)
    if found is None:
        raise Refusal(404, NO_PAGE)
    if found.provisioned:
        raise Refusal(409, provisioned_note(found))
    data: dict[str, Any] = {
        name: form.get(name, "") if str(form.get(name, "")).strip() else None for name in FIELDS
    }
    wanted = form.get(ON_PAGE) is not None
    existing = found.component(monitor_id)
    fields: dict[str, Any] = {}
    if wanted:
        # The API's request models: a new component is a create, a change a patch.
        if existing is None:
            body, errors = _validated(PageComponentCreate, {**data, "target_id": monitor_id})
        else:
            body, errors = _validated(PageComponentPatch, data)
        if errors:
            return found, errors
        fields = {name: getattr(body, name) for name in FIELDS}
    editor = _editor()
    try:
        async with domain_errors():
            if wanted and existing is None:
                await editor.add_component(slug, monitor_id, fields)
            elif wanted:
                await editor.update_component(slug, monitor_id, fields)
            elif existing is not None:
                await editor.remove_component(slug, monitor_id)
    except ApiError as exc:
        errors = _api_refusal(exc)
        if existing is None and runtime().config.monitor(monitor_id) is None:
            # No row shows this monitor, so nothing to put the message beside.
            raise Refusal(exc.status, exc.message) from None
        return found, errors
    runtime().page_cache.invalidate()  # the public page shows it at once, as after the API
    after = await _editor().page(slug)
    if after is None:  # deleted through the API meanwhile
        raise Refusal(404, NO_PAGE)
    return after, {}


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


async def _refusal_answer(refusal: Refusal) -> Response:
    if wants_json():
        return _json({"error": refusal.message}, refusal.status)
    return await refused(refusal.message, refusal.status)


def _anchor(slug: str, monitor_id: str) -> str:
    return f"/admin/pages/{slug}?saved={monitor_id}#row-{monitor_id}"


@blueprint.post("/pages/<slug>/components/<monitor_id>")
async def save_component(slug: str, monitor_id: str) -> Response:
    form = await request.form
    try:
        after, errors = await save_row(slug, monitor_id, form)
    except Refusal as refusal:
        return await _refusal_answer(refusal)
    if wants_json():
        if errors:
            return _json({"errors": errors}, 422)
        component = after.component(monitor_id)
        snippet = _snippet_of(after, component)
        return jsonify(
            {
                "on_page": component is not None,
                "values": _stored_values(component),
                "snippet": None
                if snippet is None
                else {
                    "markdown": snippet.markdown,
                    "html": snippet.html,
                    "preview": snippet.preview,
                },
            }
        )
    if errors:
        typed = {name: str(form.get(name, "")) for name in FIELDS}
        return await _editor_page(
            after, status=422, typed=typed, typed_for=monitor_id, errors=errors
        )
    return redirect(_anchor(slug, monitor_id), code=303)


async def reorder(slug: str, order: list[str]) -> tuple[StoredPage, Errors]:
    found = await _page_or_none(slug)
    if found is None:
        raise Refusal(404, NO_PAGE)
    try:
        async with domain_errors():
            after = await _editor().reorder_components(slug, order)
    except ApiError as exc:
        return found, _api_refusal(exc)
    runtime().page_cache.invalidate()
    return after, {}


@blueprint.post("/pages/<slug>/components/<monitor_id>/<any(up, down):direction>")
async def move_component(slug: str, monitor_id: str, direction: str) -> Response:
    found = await _page_or_none(slug)
    if found is None:
        return await _no_page()
    order = [c.monitor_id for c in found.components]
    if monitor_id in order:
        here = order.index(monitor_id)
        there = here - 1 if direction == "up" else here + 1
        if 0 <= there < len(order):
            order[here], order[there] = order[there], order[here]
    try:
        after, errors = await reorder(slug, order)
    except Refusal as refusal:
        return await _refusal_answer(refusal)
    if errors:
        return await _editor_page(after, status=422, errors=errors)
    return redirect(_anchor(slug, monitor_id), code=303)


@blueprint.post("/pages/<slug>/order")
async def set_order(slug: str) -> Response:
    """The whole order at once (dragging): ``target_ids``, every component once."""
    form = await request.form
    try:
        after, errors = await reorder(slug, form.getlist("target_ids"))
    except Refusal as refusal:
        return await _refusal_answer(refusal)
    if wants_json():
        if errors:
            return _json({"errors": errors}, 422)
        return jsonify({"order": [c.monitor_id for c in after.components]})
    if errors:
        return await _editor_page(after, status=422, errors=errors)
    return redirect(f"/admin/pages/{slug}?saved=order", code=303)
