"""The base a notification channel plugin builds on."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class NotifierOptions(BaseModel):
    """Base for a channel's options: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Notifier:
    """Subclass, set ``name`` and ``Options``, implement ``send``.

    ``send`` delivers one message and raises on failure; the host retries with
    backoff, so a channel never retries by itself.
    """

    name: ClassVar[str]
    Options: ClassVar[type[NotifierOptions]] = NotifierOptions
    description: ClassVar[str] = ""

    async def send(self, options: Any, message: Any) -> None:
        raise NotImplementedError
