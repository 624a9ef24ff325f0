"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread), recording what arrives.

The HTTP receivers are ``servers.HttpServer``; this is the mail counterpart::

    with SmtpServer() as smtp:                                   # plain SMTP
        ...; smtp.messages[0].message["Subject"]
    with SmtpServer(tls=server_tls_context(ca), require_starttls=True,
                    logins={"alerts": "pw"}) as smtp: ...       # STARTTLS + AUTH
    with SmtpServer(tls=ctx, implicit_tls=True) as smtp: ...     # SMTPS (port 465 style)
"""

from __future__ import annotations

import email
import email.policy
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    tls: bool  # did the session run over TLS (STARTTLS or implicit)?
    login: str | None  # the authenticated user, if any


class _Recorder:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.owner.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.owner.messages.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                message=parsed,  # type: ignore[arg-type]
                # STARTTLS swaps the transport; implicit TLS starts with one
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        return "250 Message accepted"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before aiosmtpd's readiness probe uses it.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """An SMTP server on 127.0.0.1 with a free port; ``messages`` holds what it accepted.

    ``tls`` is a server-side SSL context: offered through STARTTLS, or from the first
    byte with ``implicit_tls``. ``logins`` enables AUTH (LOGIN/PLAIN) with these
    user/password pairs; aiosmtpd only allows AUTH inside TLS. ``refuse`` maps a
    recipient address to the SMTP answer that refuses it (``"550 no such user"``).
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        require_starttls: bool = False,
        logins: dict[str, str] | None = None,
        refuse: dict[str, str] | None = None,
    ) -> None:
        self.messages: list[ReceivedMail] = []
        self.refuse = dict(refuse or {})
        self.logins = dict(logins or {})
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": 0,
            "server_hostname": "smtp.test",  # skips aiosmtpd's slow getfqdn()
            "ready_timeout": 5.0,
        }
        if implicit_tls:
            kwargs["ssl_context"] = tls
        elif tls is not None:
            kwargs["tls_context"] = tls
            kwargs["require_starttls"] = require_starttls
        if logins is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
        self._controller = _Controller(_Recorder(self), **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = self.logins.get(user) == password
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()
