"""Certificates made with ``cryptography`` and asyncio TLS servers on 127.0.0.1, for tests.

Plain functions and async context managers, usable from any test package::

    root = make_ca()
    leaf = make_cert("127.0.0.1", "localhost", issuer=root, not_after=days_from_now(5))
    async with TlsServer(server_context(leaf)) as server:
        ...  # connect to 127.0.0.1:server.port; server.server_names lists the SNI seen

Validity windows, SANs (DNS names or IP addresses) and key types are chosen per
certificate. Keys are cached per (type, size): generating RSA keys is slow and
tests do not need fresh ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["rsa", "ec", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write_cert(self, path: Path) -> Path:
        """Write the certificate as PEM (e.g. a ``ca_file``); return ``path``."""
        path.write_bytes(self.cert_pem)
        return path


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def days_from_now(days: float) -> dt.datetime:
    """A validity bound relative to now: ``days_from_now(-2)`` was two days ago."""
    return now() + dt.timedelta(days=days)


@functools.cache
def make_key(key_type: KeyType = "rsa", size: int | None = None) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size or 2048)
    if key_type == "ec":
        curves: dict[int, ec.EllipticCurve] = {256: ec.SECP256R1(), 384: ec.SECP384R1()}
        return ec.generate_private_key(curves[size or 256])
    return ed25519.Ed25519PrivateKey.generate()


def make_ca(
    name: str = "uplight test CA",
    *,
    issuer: Issued | None = None,
    key_type: KeyType = "rsa",
    key_size: int | None = None,
) -> Issued:
    """A CA certificate: a self-signed root, or an intermediate when ``issuer`` is given."""
    key = make_key(key_type, key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        _builder(subject, key, days_from_now(-1), days_from_now(3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return _sign(builder, subject, key, issuer)


def make_cert(
    *sans: str,
    issuer: Issued | None = None,
    key_type: KeyType = "rsa",
    key_size: int | None = None,
    common_name: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A server certificate for ``sans``, signed by ``issuer`` (self-signed without one).

    The window defaults to "valid since yesterday, for 90 days".
    """
    key = make_key(key_type, key_size)
    cn = common_name or (sans[0] if sans else "uplight test server")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uplight tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    builder = _builder(
        subject,
        key,
        not_before or days_from_now(-1),
        not_after or days_from_now(90),
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False
        )
    return _sign(builder, subject, key, issuer)


def _builder(
    subject: x509.Name, key: PrivateKey, not_before: dt.datetime, not_after: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _sign(
    builder: x509.CertificateBuilder, subject: x509.Name, key: PrivateKey, issuer: Issued | None
) -> Issued:
    signer = issuer.key if issuer else key
    builder = builder.issuer_name(issuer.cert.subject if issuer else subject)
    # Ed25519 signs without a separate hash; RSA and EC use SHA-256.
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer, digest), key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def server_context(leaf: Issued, *chain: Issued) -> ssl.SSLContext:
    """A server-side context presenting ``leaf`` followed by the ``chain`` certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(b"".join(c.cert_pem for c in (leaf, *chain)))
        key_path.write_bytes(leaf.key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


class LoopbackServer:
    """An asyncio server on 127.0.0.1 running ``handler`` per connection (in the test's loop).

    Handler errors are swallowed (clients hanging up mid-handshake are what the tests
    provoke) and every connection is closed when the server stops.
    """

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            # Cancelled on stop (3.11's stream callback cannot cope with a cancelled task).
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._handler(reader, writer)
        finally:
            writer.close()
            self._tasks.discard(task)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._tls)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


class TlsServer(LoopbackServer):
    """A TLS server that completes handshakes, records the SNI names sent, then idles."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        super().__init__(self._idle, tls)
        self.server_names: list[str | None] = []
        tls.sni_callback = self._record_sni

    def _record_sni(self, _: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        self.server_names.append(name)

    async def _idle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up


class _Closed(asyncio.Protocol):
    def __init__(self) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.future.done():
            self.future.set_result(None)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A handler that accepts and never says a word: clients time out."""
    await reader.read()


class MailServer(LoopbackServer):
    """A fake SMTP, IMAP or POP3 server that speaks just enough to upgrade with STARTTLS.

    ``offer_starttls=False`` makes it refuse (SMTP: not advertised in EHLO).
    """

    def __init__(
        self,
        protocol: Literal["smtp", "imap", "pop3"],
        tls: ssl.SSLContext,
        *,
        offer_starttls: bool = True,
    ) -> None:
        super().__init__(getattr(self, f"_{protocol}"))
        self.tls = tls
        self.offer_starttls = offer_starttls
        self.received: list[str] = []

    async def _line(self, reader: asyncio.StreamReader) -> str:
        line = (await reader.readline()).decode().rstrip("\r\n")
        self.received.append(line)
        return line

    async def _upgrade(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # loop.start_tls with a bare protocol: an upgraded StreamReaderProtocol logs a
        # warning on 3.11 when the client's close_notify arrives.
        closed = _Closed()
        loop = asyncio.get_running_loop()
        await loop.start_tls(writer.transport, closed, self.tls, server_side=True)
        await closed.future

    async def _smtp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220-mail.test ESMTP fake\r\n220 hello\r\n")
        await self._line(reader)  # EHLO
        extensions = [b"PIPELINING", b"8BITMIME"] + ([b"STARTTLS"] if self.offer_starttls else [])
        lines = [b"250-mail.test"] + [b"250-" + e for e in extensions[:-1]]
        writer.write(b"\r\n".join([*lines, b"250 " + extensions[-1]]) + b"\r\n")
        if await self._line(reader) == "STARTTLS" and self.offer_starttls:
            writer.write(b"220 2.0.0 ready to start TLS\r\n")
            await self._upgrade(reader, writer)
        else:
            writer.write(b"502 5.5.1 not implemented\r\n")

    async def _imap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready\r\n")
        tag = (await self._line(reader)).split(" ")[0]
        if not self.offer_starttls:
            writer.write(tag.encode() + b" BAD unknown command\r\n")
            return
        writer.write(b"* CAPABILITY IMAP4rev1\r\n" + tag.encode() + b" OK begin TLS now\r\n")
        await self._upgrade(reader, writer)

    async def _pop3(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK fake POP3 ready\r\n")
        await self._line(reader)
        if not self.offer_starttls:
            writer.write(b"-ERR unknown command\r\n")
            return
        writer.write(b"+OK begin TLS negotiation\r\n")
        await self._upgrade(reader, writer)
