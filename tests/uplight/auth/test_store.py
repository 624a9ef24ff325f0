"""API tokens and console sessions through their services, on a real SQLite file and
a real PostgreSQL database (``db_location``): the auth stores' SQL on both dialects."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from uplight.auth.sessions import ConsoleSessions
from uplight.auth.tokens import (
    TokenExists,
    create_token,
    identify_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from uplight.clock import FakeClock
from uplight.db.store import Store
from uplight.schema import build_store

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
IDLE, MAX_AGE = 3600.0, 86400.0


@pytest.fixture
async def store(db_location: Path | str) -> AsyncIterator[Store]:
    async with build_store(db_location) as opened:
        yield opened


async def test_tokens_are_created_listed_identified_and_revoked(store: Store) -> None:
    admin = await create_token(store, "admin")
    probe = await create_token(store, "probe-eu", location="eu")
    with pytest.raises(TokenExists):
        await create_token(store, "admin")
    listed = await list_tokens(store)
    assert [t.name for t in listed] == ["admin", "probe-eu"]  # by name
    assert await verify_token(store, admin) == "admin"
    assert await verify_token(store, probe) is None  # a probe token is not an admin's
    identity = await identify_token(store, probe)
    assert identity is not None and (identity.name, identity.location) == ("probe-eu", "eu")
    assert await identify_token(store, "upl_not-a-token") is None

    assert await revoke_token(store, "admin") is True
    assert await revoke_token(store, "admin") is False
    assert await verify_token(store, admin) is None
    again = await create_token(store, "admin")  # the name is free again
    assert await verify_token(store, again) == "admin"


async def test_a_session_lives_until_idle_max_age_sign_out_or_revocation(store: Store) -> None:
    clock = FakeClock(T0)
    sessions = ConsoleSessions(store, clock, idle=IDLE, max_age=MAX_AGE)
    token = await create_token(store, "admin")
    assert await sessions.sign_in("upl_wrong") is None

    session = await sessions.sign_in(token)
    assert session is not None and session.token_name == "admin"
    clock.advance(minutes=50)
    resumed = await sessions.resume(session.secret)
    assert resumed is not None and resumed.token_name == "admin"
    clock.advance(minutes=50)  # 50 minutes after the last use: still alive (touched)
    assert await sessions.resume(session.secret) is not None
    clock.advance(seconds=IDLE + 1)
    assert await sessions.resume(session.secret) is None  # idle too long
    assert await sessions.resume(session.secret) is None  # and deleted

    kept_busy = await sessions.sign_in(token)
    assert kept_busy is not None
    began = clock.now()
    while await sessions.resume(kept_busy.secret) is not None:  # used every half hour
        assert clock.now() - began <= dt.timedelta(seconds=MAX_AGE)
        clock.advance(seconds=1800)
    # Never idle: ended by max_age, at the first use past it.
    assert clock.now() - began == dt.timedelta(seconds=MAX_AGE + 1800)

    out = await sessions.sign_in(token)
    assert out is not None
    await sessions.sign_out(out)
    assert await sessions.resume(out.secret) is None

    revoked = await sessions.sign_in(token)
    assert revoked is not None
    await revoke_token(store, "admin")
    await create_token(store, "admin")  # the same name does not bring it back
    assert await sessions.resume(revoked.secret) is None


async def test_a_sign_in_forgets_dead_sessions(store: Store) -> None:
    clock = FakeClock(T0)
    sessions = ConsoleSessions(store, clock, idle=IDLE, max_age=MAX_AGE)
    token = await create_token(store, "admin")
    for _ in range(3):
        assert await sessions.sign_in(token) is not None
    clock.advance(seconds=IDLE + 1)
    assert await sessions.sign_in(token) is not None
    rows = await store.fetchall("SELECT count(*) FROM console_sessions")
    assert rows[0][0] == 1
