"""Request and response models of /api/v1/status-pages.

Each limit has its own error code (the validators) and is also in the
documented schema (``json_schema_extra``), so what the OpenAPI document
promises is what validates.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ...config import ID_PATTERN
from .fields import long_form, single_line, text_schema

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


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    return long_form(value, limit=DESCRIPTION_MAX, too_long="DESCRIPTION_TOO_LONG")


def _title(value: str) -> str:
    return single_line(value, limit=TITLE_MAX, empty="EMPTY_TITLE", too_long="TITLE_TOO_LONG")


def _hostname(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(HOSTNAME_PATTERN, value):
        raise PydanticCustomError("INVALID_HOSTNAME", "must be a DNS name like status.example.com")
    return value.lower() if value is not None else None


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
    title: str = Field(json_schema_extra=text_schema(TITLE_MAX, non_blank=True))
    hostname: str | None = Field(None, json_schema_extra={"pattern": HOSTNAME_PATTERN})
    default: bool = Field(False, description="serve this page at /status")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(ID_PATTERN, value):
            raise PydanticCustomError(
                "INVALID_SLUG",
                "must be lowercase letters, digits and '-', 1 to 64 characters,"
                " not starting or ending with '-'",
            )
        return value

    _check_title = field_validator("title")(_title)
    _check_hostname = field_validator("hostname")(_hostname)


class StatusPagePatch(_Body):
    """Omit a field to leave it; ``hostname: null`` removes the hostname."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)

    title: str = Field(None, json_schema_extra=text_schema(TITLE_MAX, non_blank=True))  # type: ignore[assignment]
    hostname: str | None = Field(None, json_schema_extra={"pattern": HOSTNAME_PATTERN})
    default: bool = Field(None, description="serve this page at /status")  # type: ignore[assignment]

    _check_title = field_validator("title")(_title)
    _check_hostname = field_validator("hostname")(_hostname)


class _ComponentFields(_Body):
    public_name: str | None = Field(None, json_schema_extra=text_schema(NAME_MAX, non_blank=True))
    public_description: str | None = Field(
        None, json_schema_extra=text_schema(DESCRIPTION_MAX, non_blank=False)
    )
    public_group: str | None = Field(None, json_schema_extra=text_schema(GROUP_MAX, non_blank=True))
    # null is the default placement, last on the page (omitted on create, or sent as
    # null on create or PATCH), so a client can undo a manual order without
    # reading every other component's sort_order first.
    sort_order: int | None = Field(None, ge=-SORT_ORDER_LIMIT, le=SORT_ORDER_LIMIT)

    @field_validator("sort_order", mode="before")
    @classmethod
    def _integral(cls, value: object) -> object:
        # JSON has one number type: 3.0 is an integer to JSON Schema, so it is one here.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("public_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return single_line(value, limit=NAME_MAX, empty="EMPTY_NAME", too_long="NAME_TOO_LONG")

    @field_validator("public_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return single_line(value, limit=GROUP_MAX, empty="EMPTY_GROUP", too_long="GROUP_TOO_LONG")

    _check_description = field_validator("public_description")(_description)


class PageComponentCreate(_ComponentFields):
    """Put a monitor on the page. Omit ``sort_order`` to place it last."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)

    target_id: str = Field(
        description="the monitor's id", json_schema_extra={"pattern": ID_PATTERN}
    )


class PageComponentPatch(_ComponentFields):
    """Omit a field to leave it; ``null`` clears public_name (back to the monitor's
    name), public_group (ungrouped) or public_description, and puts sort_order back
    to the default: last on the page."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)


class ComponentReorder(_Body):
    target_ids: list[str] = Field(
        description="every component's target_id, each once, in the new order",
        json_schema_extra={"uniqueItems": True, "items": {"type": "string", "pattern": ID_PATTERN}},
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
