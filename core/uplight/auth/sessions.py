"""Console sessions: the rules. A valid API token opens one; the cookie carries only
a random secret, the database only its hash.

A session ends when it has been idle for ``idle`` seconds, ``max_age`` seconds
after it began, at sign-out, or when the token that opened it is revoked (the
check is made on every request, against the token's name and hash, so a token
re-created under the same name does not bring old sessions back).

The CSRF token of a session is derived from its secret with HMAC: nothing more
to store, unguessable without the cookie, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..clock import Clock
from ..db.store import Store
from . import session_store
from .tokens import hash_token, verify_token

# A request refreshes last_seen only when it is this stale: a page that polls
# every few seconds must not become a write per poll.
TOUCH_EVERY = 60.0


@dataclass(frozen=True)
class Session:
    secret: str
    token_name: str
    created_at: float

    @property
    def csrf_token(self) -> str:
        return csrf_for(self.secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"uplight console csrf", hashlib.sha256).hexdigest()


class ConsoleSessions:
    def __init__(self, store: Store, clock: Clock, *, idle: float, max_age: float) -> None:
        self._store = store
        self._clock = clock
        self._idle = idle
        self._max_age = max_age

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def sign_in(self, token: str) -> Session | None:
        """A new session for a valid token, else None."""
        name = await verify_token(self._store, token)
        if name is None:
            return None
        now = self._now()
        # Sign-ins are rare and rate-limited: the moment to forget dead sessions.
        await session_store.delete_sessions_before(
            self._store, now - self._idle, now - self._max_age
        )
        secret = secrets.token_urlsafe(32)
        await session_store.insert_session(self._store, _hash(secret), name, hash_token(token), now)
        return Session(secret, name, now)

    async def resume(self, secret: str | None) -> Session | None:
        """The live session of a cookie's secret, or None (and a dead one is deleted)."""
        if not secret or len(secret) > 200:
            return None
        key = _hash(secret)
        row = await session_store.find_session(self._store, key)
        if row is None:
            return None
        now = self._now()
        expired = now - row.last_seen > self._idle or now - row.created_at > self._max_age
        if expired or not row.token_alive:
            await session_store.delete_session(self._store, key)
            return None
        if now - row.last_seen >= TOUCH_EVERY:
            await session_store.touch_session(self._store, key, now)
        return Session(secret, row.token_name, row.created_at)

    async def sign_out(self, session: Session) -> None:
        await session_store.delete_session(self._store, _hash(session.secret))

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(session.csrf_token.encode(), given.encode())
