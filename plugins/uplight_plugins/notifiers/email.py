"""The ``email`` channel: one message to several recipients through an SMTP server.

smtplib (standard library) in a worker thread rather than an async SMTP client:
one short conversation per notification does not need a new dependency, and
its blocking calls stay bounded by ``timeout`` on every socket operation.
TLS always verifies the server's certificate and name; ``ca_file`` trusts a
private CA instead of the system's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import html
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator

from uplight import (
    CAFile,
    Duration,
    Notification,
    Notifier,
    Secret,
    hookimpl,
)

from ._format import ChannelError, ChannelOptions, Tone, facts, one_line, scrub, tone

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_ADDR_SPEC = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_COLOURS: dict[Tone, str] = {
    "critical": "#c0392b",
    "major": "#e74c3c",
    "minor": "#d68910",
    "recovered": "#1e8449",
    "info": "#2874a6",
}


def _address(value: Any) -> Any:
    """Accept ``a@b.example`` or ``Name <a@b.example>``; refuse anything else."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    _, addr = parseaddr(text)
    if any(c in text for c in "\r\n\0") or not _ADDR_SPEC.fullmatch(addr):
        raise ValueError(f"{value!r} is not an email address such as alerts@example.com")
    return text


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Address = Annotated[str, BeforeValidator(_address)]


class EmailOptions(ChannelOptions):
    # `from` is a Python keyword: the field has another name, TOML uses the alias.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    # A Secret like the password: a deployment may keep both in files (systemd credentials).
    username: Secret | None = None
    password: Secret | None = None
    from_address: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(_one_or_many), Field(min_length=1)]
    ca_file: CAFile | None = None
    timeout: Duration = 10.0

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() for c in value) or "/" in value:
            raise ValueError("must be a host name or an IP address, without scheme or port")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: SecretStr | None) -> SecretStr | None:
        # What min_length=1 said while it was a plain string; an empty login is a typo.
        if value is not None and not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EmailOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if self.username is not None and self.security == "none":
            raise ValueError('a password is never sent unencrypted: use security = "starttls"')
        if self.ca_file is not None and self.security == "none":
            raise ValueError('ca_file has no effect with security = "none"')
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def _message_id(key: str, sender: str) -> str:
    # Stable across retries, so a mail client can fold duplicates of one delivery.
    local = key if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", key) else _digest(key)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "uplight.invalid"
    return f"<uplight.{local}@{domain}>"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def plain_text(message: Notification) -> str:
    lines = [message.text or message.title, ""]
    lines += [f"{label}: {value}" for label, value in facts(message)]
    if message.url:
        lines += ["", message.url]
    lines += ["", "-- ", "Sent by uplight"]
    return "\n".join(lines) + "\n"


def html_text(message: Notification) -> str:
    """A small HTML alternative; every value is escaped, links are http(s) only."""
    e = html.escape
    colour = _COLOURS[tone(message)]
    body = e(message.text or message.title).replace("\n", "<br>\n")
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(label)}</th>'
        f"<td>{e(value)}</td></tr>\n"
        for label, value in facts(message)
    )
    parts = [
        '<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n',
        f'<h2 style="color:{colour}">{e(message.title)}</h2>\n',
        f"<p>{body}</p>\n",
        f"<table>\n{rows}</table>\n" if rows else "",
    ]
    if message.url and message.url.startswith(("https://", "http://")):
        parts.append(f'<p><a href="{e(message.url)}">View incident</a></p>\n')
    parts.append('<p style="color:#777;font-size:small">Sent by uplight</p>\n</body></html>\n')
    return "".join(parts)


def build_message(options: EmailOptions, message: Notification) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = one_line(message.title, 200)  # a line break here would be refused
    mail["From"] = options.from_address
    mail["To"] = ", ".join(options.to)
    sent = (message.created_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    mail["Date"] = format_datetime(sent, usegmt=True)
    mail["Message-ID"] = _message_id(message.idempotency_key, options.from_address)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    mail["X-Uplight-Event"] = message.event
    mail.set_content(plain_text(message))
    mail.add_alternative(html_text(message), subtype="html")
    return mail


def _deliver(options: EmailOptions, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """The blocking SMTP conversation; runs in a worker thread."""
    context = (
        ssl.create_default_context(cafile=str(options.ca_file) if options.ca_file else None)
        if options.security != "none"
        else None
    )
    port = options.effective_port
    smtp: smtplib.SMTP
    if options.security == "tls":
        smtp = smtplib.SMTP_SSL(options.host, port, timeout=options.timeout, context=context)
    else:
        smtp = smtplib.SMTP(options.host, port, timeout=options.timeout)
    # Not `with smtp:` — its QUIT after a failed TLS handshake can raise a second,
    # misleading error that replaces the real one.
    try:
        smtp.ehlo()
        if options.security == "starttls":
            if not smtp.has_extn("starttls"):
                # Never fall back to plain text: that is how a password leaks.
                raise ChannelError(
                    f"email: {options.host}:{port} does not offer STARTTLS "
                    '(use security = "tls" for port 465)'
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if options.username is not None and options.password is not None:
            smtp.login(options.username.get_secret_value(), options.password.get_secret_value())
        envelope_from = parseaddr(options.from_address)[1]
        recipients = [parseaddr(a)[1] for a in options.to]
        refused = smtp.send_message(mail, from_addr=envelope_from, to_addrs=recipients)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()  # the mail is accepted; a rude goodbye changes nothing
        return refused
    finally:
        smtp.close()


def _describe(exc: BaseException, options: EmailOptions) -> str:
    where = f"{options.host}:{options.effective_port}"
    match exc:
        case smtplib.SMTPAuthenticationError():
            what = f"login refused by {where}: {exc.smtp_code} {_text(exc.smtp_error)}"
        case smtplib.SMTPRecipientsRefused():
            refusals = ", ".join(f"{a} ({c} {_text(m)})" for a, (c, m) in exc.recipients.items())
            what = f"every recipient was refused: {refusals}"
        case smtplib.SMTPSenderRefused():
            what = f"sender {exc.sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}"
        case smtplib.SMTPResponseException():
            what = f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        case ssl.SSLCertVerificationError():
            what = f"TLS certificate of {where} not trusted: {exc.verify_message}"
        case ssl.SSLError():
            what = f"TLS with {where} failed: {exc.reason or exc}"
        case TimeoutError():
            what = f"no answer from {where} within {options.timeout:g}s"
        case OSError():
            what = f"cannot connect to {where}: {exc.strerror or exc}"
        case _:
            what = f"{type(exc).__name__}: {exc}"
    secrets = [options.password.get_secret_value()] if options.password else []
    return "email: " + scrub(what, [s for s in secrets if s], limit=300)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class EmailNotifier(Notifier):
    name = "email"
    Options = EmailOptions
    description = "email through an SMTP server (STARTTLS or TLS)"

    async def send(self, options: EmailOptions, message: Notification) -> None:
        mail = build_message(options, message)
        try:
            refused = await asyncio.to_thread(_deliver, options, mail)
        except ChannelError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(_describe(exc, options)) from None
        temporary = {a: r for a, r in refused.items() if 400 <= r[0] < 500}
        listed = ", ".join(f"{a} ({c} {_text(m)})" for a, (c, m) in refused.items())
        if temporary:
            # Greylisting and full mailboxes pass: retry, and the others may get a
            # duplicate with the same Message-ID (at-least-once).
            raise ChannelError(f"email: recipients refused for now: {listed}")
        if refused:
            # A permanent refusal cannot be fixed by retrying, which would only
            # send the accepted recipients the same mail again and again.
            log.warning("email: recipients refused permanently, not retried: %s", listed)


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(EmailNotifier)
