"""Notifications: every channel's queue depth, last success and last failure; one
channel's dead messages (paged); "Send a test".

Reads and the test go through the runtime's ``Notifications`` service: the facts
are the ones ``/api/v1/health/dashboard`` and ``/metrics`` show (the outbox's
counts refreshed as the page is asked for), and the test is
``notify/channels.send_test``, what ``uplight notify test CHANNEL`` runs. Every
error on these pages is scrubbed of the channel's option values; a channel's
options themselves (its URL, token, password) are never shown.
"""

from __future__ import annotations

from quart import Response, request

from ...notify.channels import ChannelView, SendResult
from ...notify.service import Notifications
from ..context import runtime
from .guard import blueprint, page, refused

DEAD_PAGE = 25
MAX_ROW_ID = 2**63 - 1


def _service() -> Notifications:
    return runtime().notifications


@blueprint.get("/notifications")
async def notifications() -> Response:
    return await page("console/notifications.html", channels=await _service().channels())


async def _channel(channel_id: str) -> ChannelView | None:
    return next((c for c in await _service().channels() if c.id == channel_id), None)


def _before() -> int | None:
    given = request.args.get("before", "")
    if given.isdigit() and 0 < int(given) <= MAX_ROW_ID:
        return int(given)
    return None  # absent or not a row id: the newest page


async def _channel_page(
    channel: ChannelView, *, status: int = 200, result: SendResult | None = None
) -> Response:
    dead = await _service().dead_messages(channel.id, before=_before(), limit=DEAD_PAGE)
    return await page(
        "console/notification_channel.html",
        status,
        channel=channel,
        dead=dead,
        paged=_before() is not None,
        result=result,
    )


async def _not_found() -> Response:
    return await refused("There is no notification channel with that id.", 404)


@blueprint.get("/notifications/<channel_id>")
async def channel(channel_id: str) -> Response:
    found = await _channel(channel_id)
    if found is None:
        return await _not_found()
    return await _channel_page(found)


@blueprint.post("/notifications/<channel_id>/test")
async def send_test(channel_id: str) -> Response:
    result = await _service().send_test(channel_id)
    if result is None:  # unknown, or no longer in the config: nothing to send through
        return await _not_found()
    found = await _channel(channel_id)
    assert found is not None  # configured, as send_test just found
    # 200 either way: the test ran and its outcome is on the page, beside the form (an
    # error status would read as the console's failure, and a browser logs it as one).
    return await _channel_page(found, result=result)
