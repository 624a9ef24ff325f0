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
import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from quart import Response, jsonify

from ...config import ID_PATTERN
from ...store import pages as db_pages
from ...store.pages import StoredComponent, StoredPage
from ..context import runtime
from ..errors import ApiError
from .operations import ApiBlueprint

api = ApiBlueprint("pages", "/api/v1/status-pages", tag="status pages")

TITLE_MAX = 200
NAME_MAX = 200
GROUP_MAX = 200
DESCRIPTION_MAX = 5000
SORT_ORDER_LIMIT = 1_000_000
HOSTNAME_PATTERN = (
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


# -- validation -----------------------------------------------------------------


def _text(value: str, *, limit: int, empty: str, too_long: str, what: str) -> str:
    if not value.strip():
        raise PydanticCustomError(empty, f"{what} must not be blank")
    if len(value) > limit:
        raise PydanticCustomError(too_long, f"{what} must be at most {limit} characters")
    return value.strip()


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > DESCRIPTION_MAX:
        raise PydanticCustomError(
            "DESCRIPTION_TOO_LONG",
            f"public_description must be at most {DESCRIPTION_MAX} characters",
        )
    return value


def _title(value: str) -> str:
    return _text(
        value, limit=TITLE_MAX, empty="EMPTY_TITLE", too_long="TITLE_TOO_LONG", what="title"
    )


def _hostname(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(HOSTNAME_PATTERN, value):
        raise PydanticCustomError(
            "INVALID_HOSTNAME", "hostname must be a DNS name like status.example.com"
        )
    return value.lower() if value is not None else None


# The documented schema carries the limits too, so generated clients (and
# schemathesis) know what validates; the validators give each its error code.
def _limits(limit: int, *, non_blank: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"maxLength": limit}
    if non_blank:
        schema["pattern"] = r"\S"
    return schema


def _no_defaults(schema: dict[str, Any]) -> None:
    # PATCH fields are "omit to leave unchanged": a documented default (null) would
    # wrongly suggest that null is what an omitted field means.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusPageCreate(_Body):
    slug: str = Field(
        json_schema_extra={"pattern": ID_PATTERN},
        description="lowercase letters, digits and '-', 1 to 64 characters; the page's URL",
    )
    title: str = Field(json_schema_extra=_limits(TITLE_MAX, non_blank=True))
    hostname: str | None = Field(None, json_schema_extra={"pattern": HOSTNAME_PATTERN})
    default: bool = Field(False, description="serve this page at /status")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(ID_PATTERN, value):
            raise PydanticCustomError(
                "INVALID_SLUG",
                "slug must be lowercase letters, digits and '-', 1 to 64 characters,"
                " not starting or ending with '-'",
            )
        return value

    _check_title = field_validator("title")(_title)
    _check_hostname = field_validator("hostname")(_hostname)


class StatusPagePatch(_Body):
    """Omit a field to leave it; ``hostname: null`` removes the hostname."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)

    title: str = Field(None, json_schema_extra=_limits(TITLE_MAX, non_blank=True))  # type: ignore[assignment]
    hostname: str | None = Field(None, json_schema_extra={"pattern": HOSTNAME_PATTERN})
    default: bool = Field(None, description="serve this page at /status")  # type: ignore[assignment]

    _check_title = field_validator("title")(_title)
    _check_hostname = field_validator("hostname")(_hostname)


class _ComponentFields(_Body):
    public_name: str | None = Field(None, json_schema_extra=_limits(NAME_MAX, non_blank=True))
    public_description: str | None = Field(
        None, json_schema_extra=_limits(DESCRIPTION_MAX, non_blank=False)
    )
    public_group: str | None = Field(None, json_schema_extra=_limits(GROUP_MAX, non_blank=True))
    sort_order: int = Field(None, ge=-SORT_ORDER_LIMIT, le=SORT_ORDER_LIMIT)  # type: ignore[assignment]

    @field_validator("public_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _text(
            value, limit=NAME_MAX, empty="EMPTY_NAME", too_long="NAME_TOO_LONG", what="public_name"
        )

    @field_validator("public_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _text(
            value,
            limit=GROUP_MAX,
            empty="EMPTY_GROUP",
            too_long="GROUP_TOO_LONG",
            what="public_group",
        )

    _check_description = field_validator("public_description")(_description)


class PageComponentCreate(_ComponentFields):
    """Put a monitor on the page. Omit ``sort_order`` to place it last."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)

    target_id: str = Field(description="the monitor's id")


class PageComponentPatch(_ComponentFields):
    """Omit a field to leave it; ``null`` clears public_name (back to the monitor's
    name), public_group (ungrouped) or public_description. sort_order cannot be null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)


class ComponentReorder(_Body):
    target_ids: list[str] = Field(
        description="every component's target_id, each once, in the new order"
    )


class PageComponent(BaseModel):
    target_id: str
    public_id: str
    public_name: str | None
    public_description: str | None
    public_group: str | None
    sort_order: int
    name: str = Field(description="the name shown: public_name, else the monitor's name")


class StatusPage(BaseModel):
    slug: str
    title: str
    hostname: str | None
    default: bool = Field(description="whether this page is the one served at /status")
    provisioned: bool = Field(description="declared in the config file: read-only here")
    created_at: dt.datetime
    updated_at: dt.datetime
    components: list[PageComponent]


class StatusPageList(BaseModel):
    items: list[StatusPage]


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


def _provisioned(slug: str, config_index: int | None) -> ApiError:
    return ApiError(
        409,
        "PROVISIONED",
        f"page {slug!r} is provisioned from pages[{config_index}] in {_config_file()}:"
        " change it there and reload",
    )


@contextlib.asynccontextmanager
async def _domain_errors() -> collections.abc.AsyncIterator[None]:
    """Store refusals → the envelope; the page directory is refreshed after a write."""
    try:
        yield
    except db_pages.PageNotFound:
        raise _not_found("status page") from None
    except db_pages.ComponentNotFound:
        raise _not_found("component on this page") from None
    except db_pages.PageProvisioned as exc:
        raise _provisioned(exc.slug, exc.config_index) from None
    except db_pages.DefaultProvisioned as exc:
        raise ApiError(
            409,
            "PROVISIONED",
            f"the default page is {exc.slug!r}, set by pages[{exc.config_index}].default in"
            f" {_config_file()}: change it there and reload",
            field="default",
        ) from None
    except db_pages.SlugTaken as exc:
        raise ApiError(409, "SLUG_TAKEN", f"a page with slug {exc} exists", field="slug") from None
    except db_pages.HostnameTaken as exc:
        raise ApiError(
            409,
            "HOSTNAME_TAKEN",
            f"hostname {exc.hostname!r} is used by page {exc.slug!r}",
            field="hostname",
        ) from None
    except db_pages.ReorderMismatch as exc:
        raise ApiError(422, exc.code, exc.message, field=exc.field) from None
    finally:
        await runtime().pages.refresh()


def _valid_id(value: str) -> bool:
    # Slugs and monitor ids share one shape; anything else cannot exist, so it is a
    # 404 without a query (and odd bytes in a path never reach SQLite).
    return re.fullmatch(ID_PATTERN, value) is not None


async def _existing_page(page: str) -> StoredPage:
    found = await db_pages.get_page(runtime().store, page) if _valid_id(page) else None
    if found is None:
        raise _not_found("status page")
    return found


def _editable_page(page: str) -> None:
    if not _valid_id(page):
        raise _not_found("status page")


def _component_target(target_id: str) -> None:
    if not _valid_id(target_id):
        raise _not_found("component on this page")


def _now() -> dt.datetime:
    return runtime().clock.now()


# -- routes ------------------------------------------------------------------------


@api.route("GET", "", summary="List status pages", response=StatusPageList)
async def list_status_pages() -> StatusPageList:
    pages = await db_pages.list_pages(runtime().store)
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
    async with _domain_errors():
        page = await db_pages.create_page(
            runtime().store,
            slug=body.slug,
            title=body.title,
            hostname=body.hostname,
            default=body.default,
            now=_now(),
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
    async with _domain_errors():
        updated = await db_pages.update_page(runtime().store, page, changes, _now())
    return _page_out(updated)


@api.route("DELETE", "/<page>", summary="Delete a status page", status=204, errors=(409,))
async def delete_status_page(page: str) -> None:
    """409 PROVISIONED for a page from the config: remove it from the file instead."""
    _editable_page(page)
    async with _domain_errors():
        await db_pages.delete_page(runtime().store, page)


@api.route(
    "POST",
    "/<page>/components",
    summary="Put a monitor on a status page",
    body=PageComponentCreate,
    response=PageComponent,
    status=201,
    errors=(409,),
)
async def add_page_component(page: str, body: PageComponentCreate) -> PageComponent | Response:
    """201 when added; 200 with the existing component, unchanged, when the monitor is
    already on the page. 422 INVALID_COMPONENT_ID when no monitor has `target_id`."""
    found = await _existing_page(page)
    if found.provisioned:
        raise _provisioned(found.slug, found.config_index)
    if runtime().config.monitor(body.target_id) is None:
        raise ApiError(
            422,
            "INVALID_COMPONENT_ID",
            f"target_id: no monitor has id {body.target_id!r}",
            field="target_id",
        )
    fields = {name: getattr(body, name) for name in body.model_fields_set if name != "target_id"}
    async with _domain_errors():
        component, created = await db_pages.add_component(
            runtime().store, page, body.target_id, fields, _now()
        )
    out = _component_out(component)
    if created:
        return out
    response = jsonify(out.model_dump(mode="json"))
    response.status_code = 200
    return response


@api.route(
    "PATCH",
    "/<page>/components/<target_id>",
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
    async with _domain_errors():
        component = await db_pages.update_component(
            runtime().store, page, target_id, changes, _now()
        )
    return _component_out(component)


@api.route(
    "DELETE",
    "/<page>/components/<target_id>",
    summary="Take a monitor off a status page",
    status=204,
    errors=(409,),
)
async def remove_page_component(page: str, target_id: str) -> None:
    _editable_page(page)
    _component_target(target_id)
    async with _domain_errors():
        await db_pages.remove_component(runtime().store, page, target_id, _now())


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
    async with _domain_errors():
        updated = await db_pages.reorder_components(runtime().store, page, body.target_ids, _now())
    return _page_out(updated)
