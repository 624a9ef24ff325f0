"""/api/v1/probe: what a probe token may do, and nothing else (docs/probes.md).

``GET /assignment`` answers the monitors of the token's location, with their check
options (secrets included: the probe runs the checks) and a version, also the ETag, that
changes with the config; ``POST /results`` takes a batch of results and answers each one:
stored (now, or before: a resend), or refused with a code (``NOT_ASSIGNED``,
``CLOCK_SKEW``, ``TOO_OLD``), so the probe knows what it may drop from its spool.
"""

from __future__ import annotations

from quart import Response, jsonify, request

from ...probes.models import Assignment, BatchAnswer, ResultBatch
from ..context import runtime
from . import token_location
from .operations import ApiBlueprint

api = ApiBlueprint("probes", "/api/v1/probe", tag="probes")


@api.route(
    "GET",
    "/assignment",
    summary="The monitors this probe's location checks",
    response=Assignment,
    errors=(403,),
    also=(304,),
)
async def get_assignment() -> Response:
    """Send ``If-None-Match`` with the last version: 304 while it is unchanged."""
    assignment = runtime().probes.assignment(token_location())
    etag = f'"{assignment.version}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = Response(b"", status=304)
    else:
        response = jsonify(assignment.model_dump(mode="json"))
    response.headers["ETag"] = etag
    return response


@api.route(
    "POST",
    "/results",
    summary="Push a batch of check results",
    body=ResultBatch,
    response=BatchAnswer,
    errors=(403,),
)
async def post_results(body: ResultBatch) -> BatchAnswer:
    """Each result is answered in order: ``stored`` true (stored now or before) or a
    refusal to drop; the batch as a whole is durable when this answers 200."""
    return await runtime().probes.accept(token_location(), body)
