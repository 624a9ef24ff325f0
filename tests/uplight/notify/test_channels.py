"""What the console shows of channels and the test message it sends
(``notify/channels.py``, shared with ``uplight notify test``)."""

from __future__ import annotations

from typing import Any

from uplight.notify import messages
from uplight.notify import store as outbox

from .conftest import T0

PHONE = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
token = "tok-SECRET-xyz"
retry_for = "0s"
[[notifiers]]
id = "pager"
type = "fake"
enabled = false
"""


async def test_a_test_message_goes_straight_to_the_channel(make_env: Any, inbox: Any) -> None:
    async with make_env(PHONE) as env:
        result = await env.service.send_test("phone")
        assert result is not None and result.sent and result.error is None
        ((label, message),) = inbox.sent
        assert label == "phone" and message.event == "test"
        assert message.created_at == T0  # the service's clock
        assert await env.rows() == []  # not through the outbox
        facts, counts = env.service.stats.snapshot()
        assert facts["phone"].last_success is None and not counts  # not a delivery


async def test_a_failed_test_is_scrubbed_of_the_channels_secrets(make_env: Any, inbox: Any) -> None:
    async with make_env(PHONE) as env:
        inbox.fail = 1  # the fake puts its token in the exception: the host's line holds
        result = await env.service.send_test("phone")
        assert result is not None and not result.sent
        assert result.error == "ConnectionError: receiver said no (token ***)"


async def test_a_hung_channel_fails_the_test_at_the_send_timeout(make_env: Any, inbox: Any) -> None:
    async with make_env(PHONE, send_timeout=0.05) as env:
        inbox.hang = 1
        result = await env.service.send_test("phone")
        assert result is not None
        assert result.error == "TimeoutError: the channel did not answer within 0.05s"


async def test_a_disabled_channel_is_tested_and_an_unknown_one_is_none(
    make_env: Any, inbox: Any
) -> None:
    async with make_env(PHONE) as env:
        result = await env.service.send_test("pager")
        assert result is not None and result.sent and len(inbox.sent) == 1
        assert await env.service.send_test("phone-2") is None


async def test_dead_messages_newest_first_with_scrubbed_errors(make_env: Any, inbox: Any) -> None:
    async with make_env(PHONE) as env:
        inbox.down = True
        await env.feed("web", "down")
        await env.feed("db", "down")
        await env.deliver()
        page = await env.service.dead_messages("phone", limit=1)
        (newest,) = page.items
        assert newest.event == "incident_opened" and newest.monitor_id == "db"
        assert newest.attempts == 1 and newest.last_error is not None
        assert "tok-SECRET" not in newest.last_error and "***" in newest.last_error
        assert page.next_before == newest.id
        older = await env.service.dead_messages("phone", before=page.next_before, limit=1)
        assert [m.monitor_id for m in older.items] == ["web"] and older.next_before is None
        assert (await env.service.dead_messages("pager")).items == []


async def test_channels_lists_configured_ones_then_those_only_the_outbox_holds(
    make_env: Any, inbox: Any
) -> None:
    async with make_env(PHONE) as env:

        async def orphan(db: Any) -> None:
            row_id = await outbox.insert(db, "gone", messages.test_notification("gone", T0), T0)
            assert row_id is not None
            await outbox.mark_dead(db, row_id, "RuntimeError: no longer configured")

        await env.store.write(orphan)
        views = await env.service.channels()
        assert [(v.id, v.type, v.enabled) for v in views] == [
            ("phone", "fake", True),
            ("pager", "fake", False),
            ("gone", None, False),
        ]
        assert views[2].facts.dead == 1 and views[0].facts.dead == 0
