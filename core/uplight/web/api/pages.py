"""/api/v1/status-pages: status pages and their components.

Pages declared in the config are provisioned into the database and are
read-only here (409 ``PROVISIONED`` names ``pages[i]`` in the config file);
pages created through the API are fully editable. PATCH bodies have
three-state fields: omitted is unchanged, a value sets, ``null`` clears (only
where a field is nullable).
"""

from __future__ import annotations

import collections.abc
import contextlib
import re

from quart import Response, jsonify
from werkzeug.routing import BaseConverter

from ...config import ID_PATTERN
from ...pages import editing as edits
from ...pages.editing import PageEditor
from ...pages.models import StoredComponent, StoredPage
from ..context import runtime
from ..errors import ApiError
from .operations import ApiBlueprint, field_error
from .page_models import (
    ComponentReorder,
    PageComponent,
    PageComponentCreate,
    PageComponentPatch,
    StatusPage,
    StatusPageCreate,
    StatusPageList,
    StatusPagePatch,
)


class ComponentSegment(BaseConverter):
    """A component's ``target_id`` in a path: any segment but ``reorder``, which names
    the reorder action. So ``/components/reorder`` is one route, answering POST; its
    ``Allow`` header and a PATCH's 405 say so, instead of PATCH and DELETE reaching a
    component that would have to be a monitor named "reorder"."""

    regex = r"(?!reorder\Z)[^/]+"


api = ApiBlueprint(
    "pages",
    "/api/v1/status-pages",
    tag="status pages",
    converters={"component": ComponentSegment},
)

# -- wire conversion and errors -------------------------------------------------


def _component_out(component: StoredComponent) -> PageComponent:
    monitor = runtime().config.monitor(component.monitor_id)
    return PageComponent(
        target_id=component.monitor_id,
        public_id=component.public_id,
        public_name=component.public_name,
        public_description=component.public_description,
        public_group=component.public_group,
        sort_order=component.sort_order,
        name=component.public_name or (monitor.name if monitor else component.monitor_id),
    )


def _page_out(page: StoredPage) -> StatusPage:
    return StatusPage(
        slug=page.slug,
        title=page.title,
        hostname=page.hostname,
        default=page.default,
        provisioned=page.provisioned,
        created_at=page.created_at,
        updated_at=page.updated_at,
        components=[_component_out(c) for c in page.components],
    )


def _config_file() -> str:
    source = runtime().config.source
    return str(source) if source else "the config file"


def _not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no such {what}")


def provisioned_error(slug: str, config_index: int | None) -> ApiError:
    return ApiError(
        409,
        "PROVISIONED",
        f"page {slug!r} is provisioned from pages[{config_index}] in {_config_file()}:"
        " change it there and reload",
    )


@contextlib.asynccontextmanager
async def domain_errors() -> collections.abc.AsyncIterator[None]:
    """The editor's refusals → the envelope."""
    try:
        yield
    except edits.PageNotFound:
        raise _not_found("status page") from None
    except edits.ComponentNotFound:
        raise _not_found("component on this page") from None
    except edits.PageProvisioned as exc:
        raise provisioned_error(exc.slug, exc.config_index) from None
    except edits.UnknownMonitor as exc:
        raise field_error(
            422, "INVALID_COMPONENT_ID", "target_id", f"no monitor has id {exc.monitor_id!r}"
        ) from None
    except edits.DefaultProvisioned as exc:
        raise field_error(
            409,
            "PROVISIONED",
            "default",
            f"the default page is {exc.slug!r}, set by pages[{exc.config_index}].default in"
            f" {_config_file()}: change it there and reload",
        ) from None
    except edits.SlugTaken as exc:
        raise field_error(409, "SLUG_TAKEN", "slug", f"page {str(exc)!r} exists already") from None
    except edits.HostnameTaken as exc:
        raise field_error(
            409, "HOSTNAME_TAKEN", "hostname", f"{exc.hostname!r} is used by page {exc.slug!r}"
        ) from None
    except edits.ReorderMismatch as exc:
        raise field_error(422, exc.code, exc.field, exc.message) from None


def _valid_id(value: str) -> bool:
    # Slugs and monitor ids share one shape; anything else cannot exist, so it is a
    # 404 without a query (and odd bytes in a path never reach SQLite).
    return re.fullmatch(ID_PATTERN, value) is not None


def _editor() -> PageEditor:
    return runtime().page_editor


async def _existing_page(page: str) -> StoredPage:
    found = await _editor().page(page) if _valid_id(page) else None
    if found is None:
        raise _not_found("status page")
    return found


def _editable_page(page: str) -> None:
    if not _valid_id(page):
        raise _not_found("status page")


def _component_target(target_id: str) -> None:
    if not _valid_id(target_id):
        raise _not_found("component on this page")


# -- routes ------------------------------------------------------------------------


@api.route("GET", "", summary="List status pages", response=StatusPageList)
async def list_status_pages() -> StatusPageList:
    pages = await _editor().pages()
    return StatusPageList(items=[_page_out(p) for p in pages])


@api.route(
    "POST",
    "",
    summary="Create a status page",
    body=StatusPageCreate,
    response=StatusPage,
    status=201,
    errors=(409,),
)
async def create_status_page(body: StatusPageCreate) -> StatusPage:
    """409 SLUG_TAKEN or HOSTNAME_TAKEN; 409 PROVISIONED for `default: true` when the
    config names the default page."""
    async with domain_errors():
        page = await _editor().create_page(
            slug=body.slug, title=body.title, hostname=body.hostname, default=body.default
        )
    return _page_out(page)


@api.route("GET", "/<page>", summary="A status page with its components", response=StatusPage)
async def get_status_page(page: str) -> StatusPage:
    return _page_out(await _existing_page(page))


@api.route(
    "PATCH",
    "/<page>",
    summary="Change a status page",
    body=StatusPagePatch,
    response=StatusPage,
    errors=(409,),
)
async def update_status_page(page: str, body: StatusPagePatch) -> StatusPage:
    """Omitted fields are unchanged; `hostname: null` removes it. 409 PROVISIONED for a
    page from the config."""
    _editable_page(page)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    async with domain_errors():
        updated = await _editor().update_page(page, changes)
    return _page_out(updated)


@api.route("DELETE", "/<page>", summary="Delete a status page", status=204, errors=(409,))
async def delete_status_page(page: str) -> None:
    """409 PROVISIONED for a page from the config: remove it from the file instead."""
    _editable_page(page)
    async with domain_errors():
        await _editor().delete_page(page)


@api.route(
    "POST",
    "/<page>/components",
    summary="Put a monitor on a status page",
    body=PageComponentCreate,
    response=PageComponent,
    status=201,
    also=(200,),  # the monitor was already on the page: an idempotent no-op
    errors=(409,),
)
async def add_page_component(page: str, body: PageComponentCreate) -> PageComponent | Response:
    """201 when added; 200 with the existing component, unchanged, when the monitor is
    already on the page. 422 INVALID_COMPONENT_ID when no monitor has `target_id`."""
    _editable_page(page)
    fields = {name: getattr(body, name) for name in body.model_fields_set if name != "target_id"}
    async with domain_errors():
        component, created = await _editor().add_component(page, body.target_id, fields)
    out = _component_out(component)
    if created:
        return out
    response = jsonify(out.model_dump(mode="json"))
    response.status_code = 200
    return response


@api.route(
    "PATCH",
    "/<page>/components/<component:target_id>",
    summary="Change a component of a status page",
    body=PageComponentPatch,
    response=PageComponent,
    errors=(409,),
)
async def update_page_component(
    page: str, target_id: str, body: PageComponentPatch
) -> PageComponent:
    _editable_page(page)
    _component_target(target_id)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    async with domain_errors():
        component = await _editor().update_component(page, target_id, changes)
    return _component_out(component)


@api.route(
    "DELETE",
    "/<page>/components/<component:target_id>",
    summary="Take a monitor off a status page",
    status=204,
    errors=(409,),
)
async def remove_page_component(page: str, target_id: str) -> None:
    _editable_page(page)
    _component_target(target_id)
    async with domain_errors():
        await _editor().remove_component(page, target_id)


@api.route(
    "POST",
    "/<page>/components/reorder",
    summary="Reorder the components of a status page",
    body=ComponentReorder,
    response=StatusPage,
    errors=(409,),
)
async def reorder_page_components(page: str, body: ComponentReorder) -> StatusPage:
    """`target_ids` must list every component once; sort_order becomes 1..n. 422
    INVALID_COMPONENT_ID (not on the page), DUPLICATE_COMPONENT_ID, MISSING_COMPONENT_ID."""
    _editable_page(page)
    async with domain_errors():
        updated = await _editor().reorder_components(page, body.target_ids)
    return _page_out(updated)
