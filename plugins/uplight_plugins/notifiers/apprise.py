"""The ``apprise`` channel: any service Apprise knows (Telegram, Gotify, Matrix, …).

Apprise is an optional extra (``pip install 'uplight[apprise]'``), so this module
never imports it at import time: the channel is always registered, and a config
that uses it without the library fails validation with the command to run.
Apprise's ``notify`` blocks, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import threading
from collections import deque
from types import ModuleType
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from uplight import Notification, Notifier, NotifierOptions, Secret, hookimpl

from ._format import ChannelError, Tone, scrub, tone

INSTALL_HINT = "the apprise channel needs the Apprise library: pip install 'uplight[apprise]'"
NOTIFY_TYPES: dict[Tone, str] = {  # apprise.NotifyType values
    "critical": "failure",
    "major": "failure",
    "minor": "warning",
    "recovered": "success",
    "info": "info",
}


# Apprise logs service URLs (tokens included) when it cannot parse or reach them.
# Its logger is cut off from uplight's logs; what it says is kept here and
# quoted, scrubbed, in the error of a failed delivery.
_CAPTURED: deque[str] = deque(maxlen=20)
# One delivery at a time, so the captured lines belong to it (Apprise may log
# from its own worker threads). Apprise's socket timeouts bound the wait.
_DELIVERY = threading.Lock()
_SETUP = threading.Lock()


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _CAPTURED.append(record.getMessage())
        except Exception:  # a logging handler must never raise into Apprise
            pass


def load_apprise() -> ModuleType:
    try:
        module = importlib.import_module("apprise")
    except ImportError:
        raise ChannelError(INSTALL_HINT) from None
    logger = logging.getLogger("apprise")
    with _SETUP:  # validation and deliveries may get here from several threads
        if not any(isinstance(h, _Capture) for h in logger.handlers):
            logger.addHandler(_Capture(logging.WARNING))
            logger.setLevel(logging.WARNING)
            logger.propagate = False
    return module


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | dict) else value


class AppriseOptions(NotifierOptions):
    # Every Apprise URL embeds its service's credentials (bot tokens, passwords).
    urls: Annotated[tuple[Secret, ...], BeforeValidator(_one_or_many), Field(min_length=1)]

    @field_validator("urls")
    @classmethod
    def _understood(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        try:
            apprise = load_apprise()
        except ChannelError as exc:
            raise ValueError(str(exc)) from None
        for index, url in enumerate(value):
            # add() parses without sending: an unknown scheme or a malformed URL is
            # a config error now rather than a dead delivery tomorrow.
            if not apprise.Apprise().add(url.get_secret_value()):
                raise ValueError(
                    f"URL number {index + 1} is not one Apprise understands "
                    "(see https://github.com/caronc/apprise/wiki)"
                )
        return value


def hidden_parts(urls: list[str]) -> list[str]:
    """Where an Apprise URL keeps its token varies by service (host, path, user…):
    hide every piece of it that could be one."""
    parts = set(urls)
    for url in urls:
        rest = url.split("://", 1)[-1]
        parts |= {p for p in re.split(r"[/:@?&=#,]", rest) if len(p) >= 4}
    return sorted(parts, key=len, reverse=True)


def _notify(urls: list[str], title: str, body: str, notify_type: str) -> tuple[bool, str]:
    """Runs in a worker thread: True when every URL accepted the message."""
    apprise = load_apprise()
    with _DELIVERY:
        _CAPTURED.clear()
        apobj = apprise.Apprise()
        for url in urls:
            apobj.add(url)
        # Apprise says why a service failed only in its log.
        result = apobj.notify(body=body, title=title, notify_type=notify_type)
        return bool(result), " | ".join(_CAPTURED)


class AppriseNotifier(Notifier):
    name = "apprise"
    Options = AppriseOptions
    description = "any service Apprise supports (optional extra: uplight[apprise])"

    async def send(self, options: AppriseOptions, message: Notification) -> None:
        urls = [url.get_secret_value() for url in options.urls]
        body = message.text or message.title
        # The host's text already ends with the link; a plugin's own text may not.
        if message.url and not body.endswith(message.url):
            body += f"\n\n{message.url}"
        ok, log_text = await asyncio.to_thread(
            _notify, urls, message.title, body, NOTIFY_TYPES[tone(message)]
        )
        if not ok:
            reason = scrub(log_text, hidden_parts(urls)) or "no reason given"
            raise ChannelError(f"apprise: delivery failed: {reason}")


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(AppriseNotifier)
