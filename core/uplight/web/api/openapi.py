"""The OpenAPI 3.1 document, generated from the declared operations and their models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ... import __version__
from .operations import MAX_ID, Operation

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    304: "Not modified",
    400: "Malformed request (e.g. the body is not valid JSON)",
    401: "Missing or wrong bearer token",
    404: "No such resource",
    409: "Conflict with the current state (e.g. a page provisioned from the config)",
    415: "The body is not JSON",
    422: "The request does not validate; the error names the field",
    429: "Too many requests",
    503: "Temporarily unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorEnvelope(BaseModel):
    """Every error, on every route."""

    error: ErrorDetail


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """``/x/<int:id>`` → ``/x/{id}`` and the path parameters with their types."""
    params: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        params.append((name, "integer" if converter == "int" else "string"))
        return "{" + name + "}"

    return re.sub(r"<(?:(\w+):)?(\w+)>", replace, rule), params


def _path_schema(kind: str) -> dict[str, Any]:
    if kind == "integer":
        return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
    return {"type": "string"}


def build_document(
    operations: Iterable[Operation], *, title: str = "uplight API"
) -> dict[str, Any]:
    operations = list(operations)
    keyed: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorEnvelope, "serialization")
    ]
    for op in operations:
        if op.body is not None:
            keyed.append((op.body, "validation"))
        if op.response is not None:
            keyed.append((op.response, "serialization"))
    keyed = list(dict.fromkeys(keyed))
    refs, top = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path, path_params = openapi_path(op.rule)
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": _path_schema(kind)}
            for name, kind in path_params
        ]
        if op.query is not None:
            query_schema = op.query.model_json_schema()
            required = set(query_schema.get("required", []))
            for name, schema in query_schema.get("properties", {}).items():
                schema = dict(schema)
                description = schema.pop("description", None)
                param = {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": schema,
                }
                if description:
                    param["description"] = description
                parameters.append(param)
        entry: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        if op.description:
            entry["description"] = op.description
        if parameters:
            entry["parameters"] = parameters
        if op.auth:
            entry["security"] = [{"bearerAuth": []}]
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        success: dict[str, Any] = {"description": _DESCRIPTIONS.get(op.status, "OK")}
        if op.response is not None and op.status != 204:
            success["content"] = {op.media_type: {"schema": refs[(op.response, "serialization")]}}
        elif op.media_type != "application/json":
            # A document that is not JSON (RSS, SVG): described by its media type.
            success["content"] = {op.media_type: {"schema": {"type": "string"}}}
        entry["responses"][str(op.status)] = success
        for status in op.also:
            entry["responses"][str(status)] = {
                **success,
                "description": _DESCRIPTIONS.get(status, "OK"),
            }
        error_ref = refs[(ErrorEnvelope, "serialization")]
        for status in op.errors:
            entry["responses"][str(status)] = {
                "description": _DESCRIPTIONS.get(status, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        paths.setdefault(path, {})[op.method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "Admin API (bearer token) and public API of uplight. "
            'Every error is {"error": {"code": "…", "message": "…"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
