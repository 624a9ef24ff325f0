"""Declared API operations: one decorator validates the request and documents it.

A view declares its body, query and response models; the wrapper parses JSON
(415 for a wrong content type, 400 for malformed JSON, 422 naming the field for
anything that does not validate) and serialises the answer. The OpenAPI document
is generated from the same declarations (see ``openapi.py``), so what is
documented is what is enforced.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, jsonify, request
from werkzeug.routing import BaseConverter

from ..errors import ApiError

View = Callable[..., Awaitable[Any]]

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # the Quart rule, with the blueprint prefix
    name: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    auth: bool
    description: str = ""
    also: tuple[int, ...] = ()  # other success statuses (e.g. 200 for an idempotent create)
    media_type: str = "application/json"  # of the success response (RSS, SVG…)


@dataclass
class ApiBlueprint:
    """A Quart blueprint that remembers its operations for the OpenAPI document.

    ``lenient_query``: unknown query parameters are ignored instead of refused, for
    URLs that are embedded elsewhere (a README badge with ``?v=2`` to bust a cache,
    a feed with ``?utm_source=…``). The admin API stays strict: there a misspelt
    filter silently ignored would answer a question nobody asked.
    ``converters``: path converters its rules name, installed on the app before the
    blueprint is registered.
    """

    name: str
    url_prefix: str
    tag: str
    auth: bool = True
    lenient_query: bool = False
    converters: dict[str, type[BaseConverter]] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(self.name, __name__, url_prefix=self.url_prefix)

    def route(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        also: tuple[int, ...] = (),
        media_type: str = "application/json",
    ) -> Callable[[View], View]:
        def decorate(view: View) -> View:
            standard = (401,) if self.auth else ()
            implied = (
                *((400, 415, 422) if body else ()),
                *((422,) if query else ()),
                *((404,) if "<" in rule else ()),
            )
            operation = Operation(
                method=method.upper(),
                rule=self.url_prefix + rule,
                name=view.__name__,
                summary=summary,
                tag=self.tag,
                body=body,
                query=query,
                response=response,
                status=status,
                errors=tuple(sorted(set(standard + implied + errors))),
                auth=self.auth,
                description=(view.__doc__ or "").strip(),
                also=also,
                media_type=media_type,
            )
            self.operations.append(operation)

            @functools.wraps(view)
            async def wrapper(**path_params: Any) -> Response:
                for value in path_params.values():
                    # SQLite integers are 64-bit: a larger id cannot exist.
                    if isinstance(value, int) and not 0 < value <= MAX_ID:
                        raise ApiError(404, "NOT_FOUND", "no such resource")
                kwargs = dict(path_params)
                if query is not None:
                    kwargs["query"] = parse_query(query, ignore_unknown=self.lenient_query)
                elif request.args and not self.lenient_query:
                    raise unknown_parameter(next(iter(request.args)))
                if body is not None:
                    kwargs["body"] = await parse_body(body)
                return to_response(await view(**kwargs), status)

            self.blueprint.add_url_rule(rule, view.__name__, wrapper, methods=[method.upper()])
            return view

        return decorate


async def parse_body(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != "application/json":
        raise ApiError(
            415, "UNSUPPORTED_MEDIA_TYPE", "the body must be JSON (Content-Type: application/json)"
        )
    raw = await request.get_data()
    try:
        # Strict: "5" is not a number and 1 is not a string; JSON strings still parse as times.
        return model.model_validate_json(raw or b"", strict=True)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def parse_query(model: type[BaseModel], *, ignore_unknown: bool = False) -> BaseModel:
    values: dict[str, str] = {}
    for name in request.args:
        if name not in model.model_fields:
            if ignore_unknown:
                continue
            # A misspelt filter silently ignored would return the wrong rows: refuse it.
            raise unknown_parameter(name)
        if len(request.args.getlist(name)) > 1:
            # Silently keeping the first value would answer a question not asked.
            error = field_error(422, "VALIDATION_ERROR", name, "given more than once")
            error.field = name[:100]
            raise error
        values[name] = request.args[name]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def field_error(status: int, code: str, field: str | None, message: str) -> ApiError:
    """The one message shape: ``"<field>: <what is wrong>"``. ``message`` never names the
    field itself (``"public_name: must not be blank"``)."""
    return ApiError(status, code, f"{field}: {message}" if field else message, field=field)


def unknown_parameter(name: str) -> ApiError:
    error = field_error(422, "UNKNOWN_FIELD", name, "unknown query parameter")
    error.field = name[:100] or None  # the message keeps it whole; the field is bounded
    return error


_CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def validation_error(exc: ValidationError, where: str) -> ApiError:
    """The first problem, named by field; custom codes (EMPTY_TITLE…) pass through."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    path = field_path(error["loc"])
    if kind == "json_invalid":
        return ApiError(400, "INVALID_JSON", f"the body is not valid JSON: {error['msg']}")
    if not path and kind in ("model_type", "model_attributes_type", "dict_type"):
        return ApiError(422, "VALIDATION_ERROR", f"the {where} must be a JSON object")
    if _CODE.match(kind):
        code = kind
    elif kind == "extra_forbidden":
        code = "UNKNOWN_FIELD"
    elif kind == "missing":
        code = "MISSING_FIELD"
    else:
        code = "VALIDATION_ERROR"
    message = {
        "extra_forbidden": "unknown field",
        "missing": "required field is missing",
    }.get(kind, error["msg"].removeprefix("Value error, "))
    return field_error(422, code, path or None, message)


def field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def to_response(value: Any, status: int) -> Response:
    if isinstance(value, Response):
        return value
    if value is None:
        return Response(b"", status=204 if status == 204 else status)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    response = jsonify(value)
    response.status_code = status
    return response
