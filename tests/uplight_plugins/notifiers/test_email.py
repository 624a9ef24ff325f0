"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1.

Plain SMTP, STARTTLS and implicit TLS with certificates made here, AUTH with a
password read from a file, several recipients, refusals.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import trustme
from receivers import ReceivedMail, SmtpServer
from servers import refused_port, server_tls_context

from uplight import Notification
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.email import EmailNotifier, EmailOptions

Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(15)
SENDER = "uplight <uplight@home.example>"
TO = ["alice@home.example", "bob@ops.example"]
REASON_LINE = "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
OPERATOR_URL = "https://status.example.com/api/v1/incidents/17"


async def send(message: Notification, **options: Any) -> None:
    fields = {"host": "127.0.0.1", "from": SENDER, "to": TO, "timeout": "5s"} | options
    await EmailNotifier().send(EmailOptions.model_validate(fields), message)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def tls(ca: trustme.CA) -> ssl.SSLContext:
    return server_tls_context(ca, "127.0.0.1")


def parts(mail: ReceivedMail) -> tuple[str, str]:
    plain = mail.message.get_body(("plain",))
    html = mail.message.get_body(("html",))
    assert plain is not None and html is not None
    # SMTP carries CRLF line ends; compare text with plain newlines
    return tuple(p.get_content().replace("\r\n", "\n") for p in (plain, html))  # type: ignore[return-value]


def test_registered_through_the_entry_point(registry) -> None:
    assert registry.notifiers["email"] is EmailNotifier


async def test_plain_smtp_reaches_every_recipient(opened: Make) -> None:
    with SmtpServer() as smtp:
        await send(opened(), port=smtp.port, security="none")
    (mail,) = smtp.messages
    assert mail.mail_from == "uplight@home.example"
    assert mail.recipients == TO
    assert not mail.tls and mail.login is None
    headers = mail.message
    assert headers["Subject"] == "NAS is down"
    assert headers["From"] == SENDER
    assert headers["To"] == "alice@home.example, bob@ops.example"
    assert headers["Message-ID"] == "<uplight.n-17-incident_opened@home.example>"
    assert headers["Date"].datetime == dt.datetime(2024, 5, 1, 12, 0, 3, tzinfo=dt.UTC)
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["X-Uplight-Event"] == "incident_opened"
    assert headers.get_content_type() == "multipart/alternative"
    plain, html = parts(mail)
    assert plain.startswith("NAS is down since 12:00 UTC: connection refused\n\n")
    assert "Monitor: NAS\nSeverity: major\nStatus: major outage\n" in plain
    assert "https://status.example.com/incidents/17" in plain
    assert '<h2 style="color:#e74c3c">NAS is down</h2>' in html
    assert '<a href="https://status.example.com/incidents/17">View incident</a>' in html


async def test_the_html_part_escapes_everything(ended: Make) -> None:
    message = ended(
        title="<b>NAS</b> & co recovered",
        monitor_name="<script>alert(1)</script>",
        text='back "now" <img src=x>',
        url="javascript:alert(1)",
    )
    with SmtpServer() as smtp:
        await send(message, port=smtp.port, security="none")
    plain, html = parts(smtp.messages[0])
    assert "<script>" not in html and "<img" not in html and "<b>NAS" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "back &quot;now&quot; &lt;img src=x&gt;" in html
    assert "&lt;b&gt;NAS&lt;/b&gt; &amp; co recovered" in html
    assert "javascript:" not in html  # only http(s) links become links
    assert "Downtime: 1h 5m" in plain and "<td>1h 5m</td>" in html
    assert smtp.messages[0].message["Subject"] == "<b>NAS</b> & co recovered"


async def test_starttls_with_a_private_ca_and_a_password_file(
    opened: Make, tls: ssl.SSLContext, ca_file: Path, tmp_path: Path
) -> None:
    password = tmp_path / "smtp-password"  # as a systemd credential would be
    password.write_text("pw-from-a-file\n")
    username = tmp_path / "smtp-username"  # the login can be kept out of the config too
    username.write_text("alerts\n")
    with SmtpServer(tls=tls, require_starttls=True, logins={"alerts": "pw-from-a-file"}) as smtp:
        await send(
            opened(),
            port=smtp.port,
            ca_file=str(ca_file),
            username={"file": str(username)},
            password={"file": str(password)},
        )
    (mail,) = smtp.messages
    assert mail.tls and mail.login == "alerts"
    assert mail.recipients == TO


async def test_implicit_tls(opened: Make, tls: ssl.SSLContext, ca_file: Path) -> None:
    with SmtpServer(tls=tls, implicit_tls=True) as smtp:
        await send(opened(), port=smtp.port, security="tls", ca_file=str(ca_file))
    (mail,) = smtp.messages
    assert mail.tls


async def test_an_untrusted_certificate_is_refused(opened: Make, tls: ssl.SSLContext) -> None:
    # No ca_file: the system's CAs do not know the test CA.
    with SmtpServer(tls=tls, require_starttls=True) as smtp:
        with pytest.raises(ChannelError, match=r"^email: TLS certificate of 127.0.0.1:\d+ not"):
            await send(opened(), port=smtp.port)
    assert smtp.messages == []


async def test_never_falls_back_to_plain_text(opened: Make) -> None:
    with SmtpServer() as smtp:  # offers no STARTTLS
        with pytest.raises(ChannelError, match="does not offer STARTTLS"):
            await send(opened(), port=smtp.port, username="alerts", password="pw-plain-9")
    assert smtp.messages == []


async def test_a_wrong_password_raises_without_the_password(
    opened: Make, tls: ssl.SSLContext, ca_file: Path
) -> None:
    with SmtpServer(tls=tls, require_starttls=True, logins={"alerts": "right"}) as smtp:
        with pytest.raises(ChannelError, match=r"^email: login refused by 127.0.0.1") as caught:
            await send(
                opened(),
                port=smtp.port,
                ca_file=str(ca_file),
                username="alerts",
                password="wrong-pw-1234",
            )
    assert "wrong-pw-1234" not in str(caught.value)
    assert smtp.messages == []


async def test_connection_refused_raises(opened: Make) -> None:
    port = refused_port()
    with pytest.raises(ChannelError, match=rf"^email: cannot connect to 127.0.0.1:{port}"):
        await send(opened(), port=port, security="none")


async def test_a_permanently_refused_recipient_does_not_block_the_others(opened: Make) -> None:
    with SmtpServer(refuse={"bob@ops.example": "550 no such user"}) as smtp:
        await send(opened(), port=smtp.port, security="none")  # no exception: no retry storm
    (mail,) = smtp.messages
    assert mail.recipients == ["alice@home.example"]


async def test_a_temporary_refusal_raises_so_the_outbox_retries(opened: Make) -> None:
    with SmtpServer(refuse={"bob@ops.example": "450 greylisted, try later"}) as smtp:
        with pytest.raises(ChannelError, match=r"refused for now: bob@ops.example \(450 grey"):
            await send(opened(), port=smtp.port, security="none")


async def test_every_recipient_refused_raises(opened: Make) -> None:
    refusals = {address: "550 mailbox unavailable" for address in TO}
    with SmtpServer(refuse=refusals) as smtp:
        with pytest.raises(ChannelError, match="every recipient was refused"):
            await send(opened(), port=smtp.port, security="none")
    assert smtp.messages == []


def test_from_is_the_toml_key_and_to_accepts_one_address(tmp_path: Path) -> None:
    options = EmailOptions.model_validate(
        {"host": "smtp.example", "from": "a@b.example", "to": "ops@b.example"}
    )
    assert options.from_address == "a@b.example"
    assert options.to == ("ops@b.example",)
    assert (options.security, options.effective_port) == ("starttls", 587)
    implicit = options.model_copy(update={"security": "tls"})
    assert implicit.effective_port == 465


@pytest.mark.parametrize(
    ("options", "where", "error"),
    [
        ({"to": []}, "to", "at least 1"),
        ({"to": None}, "to", "Field required"),  # None: the key is left out
        ({"to": ["ops@b.example", "not an address"]}, "to", "not an email address"),
        ({"from": "nobody"}, "from", "not an email address"),
        ({"from": "a@b.example\nBcc: x@y.example"}, "from", "not an email address"),
        ({"security": "ssl"}, "security", "'starttls', 'tls' or 'none'"),
        ({"port": 0}, "port", "greater than or equal to 1"),
        ({"host": "smtp://x"}, "host", "without scheme"),
        ({"username": "alerts"}, None, "give both or neither"),
        ({"username": "", "password": "p"}, "username", "must not be empty"),
        ({"username": "a", "password": "p", "security": "none"}, None, "never sent unencrypted"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file", "file not found"),
    ],
)
def test_invalid_options(options: dict[str, Any], where: str | None, error: str) -> None:
    fields = {"host": "smtp.example", "from": "a@b.example", "to": ["c@d.example"]} | options
    fields = {k: v for k, v in fields.items() if v is not None}
    with pytest.raises(pydantic.ValidationError) as caught:
        EmailOptions.model_validate(fields)
    (issue,) = caught.value.errors()
    assert (issue["loc"][0] if issue["loc"] else None) == where
    assert error in issue["msg"]


async def test_a_private_incident_says_why_in_one_line(private_opened: Notification) -> None:
    with SmtpServer() as smtp:
        await send(private_opened, port=smtp.port, security="none")
    (mail,) = smtp.messages
    plain, html = parts(mail)
    assert REASON_LINE in plain.splitlines() and OPERATOR_URL in plain.splitlines()
    assert "Check: http" in plain.splitlines() and "Latency: 4 ms" in plain.splitlines()
    assert REASON_LINE in html
