"""One shared object for equal immutable values held per monitor (a duration, a set
of keys): at 10,000 monitors the copies cost megabytes. Bounded, so values that
differ every time (a plugin's keys changing with each result) cannot grow it."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class Interner(Generic[T]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[T, T] = {}

    def __call__(self, value: T) -> T:
        """The first equal value seen (while there was room), else ``value`` itself."""
        shared = self._seen.get(value)
        if shared is not None:
            return shared
        if len(self._seen) < self.limit:
            self._seen[value] = value
        return value
