"""API tokens: the rules. Only a hash is stored; the token itself is shown once.

Tokens are 256 random bits, so a plain SHA-256 is enough (no slow KDF), and a
lookup compares every stored hash in constant time rather than querying by hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..db.store import Store
from ..text import forbidden_character
from . import store as db_tokens
from .store import TokenInfo as TokenInfo

PREFIX = "upl_"
NAME_MAX = 100


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a token (the CLI and the console share the rule), or None."""
    if not name or len(name) > NAME_MAX:
        return f"must be 1 to {NAME_MAX} characters"
    return forbidden_character(name)


class TokenExists(Exception):
    """A token with this name exists: names are how tokens are recognised and revoked."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(store: Store, name: str, *, location: str | None = None) -> str:
    """Store a new token's hash under ``name``; return the token (shown once).
    ``location``: a probe token bound to that location (docs/probes.md)."""
    token = PREFIX + secrets.token_urlsafe(32)
    if not await db_tokens.insert_token(store, name, hash_token(token), location):
        raise TokenExists(name)
    return token


async def list_tokens(store: Store) -> list[TokenInfo]:
    return await db_tokens.list_tokens(store)


async def revoke_token(store: Store, name: str) -> bool:
    """True when a token of that name existed."""
    return await db_tokens.delete_token(store, name)


@dataclass(frozen=True)
class TokenIdentity:
    name: str
    location: str | None  # a probe token's location; None: an admin token

    @property
    def probe(self) -> bool:
        return self.location is not None


async def identify_token(store: Store, token: str) -> TokenIdentity | None:
    """Whose token it is, admin or probe, or None."""
    candidate = hash_token(token)
    found = None
    for name, stored, location in await db_tokens.token_hashes(store):
        if hmac.compare_digest(candidate, stored):
            found = TokenIdentity(name, location)
    return found


async def verify_token(store: Store, token: str) -> str | None:
    """An admin token's name, or None: a probe token is not one (it cannot sign in to
    the console or use the admin API)."""
    identity = await identify_token(store, token)
    return identity.name if identity is not None and not identity.probe else None
