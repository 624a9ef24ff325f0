"""The tcp check against real servers on 127.0.0.1: banners, TLS, refusals, resets, silence."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from certs import Issued, LoopbackServer, make_ca, make_cert, server_context, silent
from servers import refused_port

from uplight import CheckContext, CheckResult, CheckStatus
from uplight.config import Config, ConfigError
from uplight_plugins.checks.tcp import READ_LIMIT, TcpCheck, TcpOptions, uplight_check_types

pytestmark = pytest.mark.timeout(10)

MakeConfig = Callable[[str], Config]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_ca("uplight tcp test root")


@pytest.fixture(scope="module")
def root_file(root: Issued, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root.write_cert(tmp_path_factory.mktemp("tcp") / "root.pem")


async def run(timeout: float = 1.0, **options: Any) -> CheckResult:
    validated = TcpOptions.model_validate({"host": "127.0.0.1", **options})
    result = await TcpCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))
    json.dumps(result.details)  # the store needs JSON
    return result


def banner(text: bytes, *, then: Handler | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text)
        await writer.drain()
        if then is not None:
            await then(reader, writer)
        else:
            await reader.read()

    return handle


async def echo_upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    await reader.read()


def test_registers_the_tcp_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [TcpCheck]


async def test_open_port_is_up_with_connect_time() -> None:
    async with LoopbackServer(silent) as server:
        result = await run(port=server.port)
    assert result.status is CheckStatus.UP
    assert result.message.startswith("connected in ")
    assert result.latency is not None and result.latency > 0
    assert set(result.details["phases"]) == {"connect"}


async def test_banner_matching_expect_is_up() -> None:
    async with LoopbackServer(banner(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        result = await run(port=server.port, expect="SSH-2.0")
    assert result.status is CheckStatus.UP
    assert result.message.startswith("'SSH-2.0' received in ")
    assert result.details["bytes_received"] == 21
    assert result.details["received"] == "SSH-2.0-OpenSSH_9.6\\r\\n"
    assert set(result.details["phases"]) == {"connect", "response"}


async def test_banner_arriving_in_pieces_is_matched() -> None:
    async def slow_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for piece in (b"220 mail", b".test ES", b"MTP ready\r\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.02)
        await reader.read()

    async with LoopbackServer(slow_banner) as server:
        result = await run(port=server.port, expect_regex=r"^220 \S+ ESMTP")
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith("regex '^220 \\\\S+ ESMTP' matched in ")


async def test_send_then_expect_the_answer() -> None:
    async with LoopbackServer(echo_upper) as server:
        result = await run(port=server.port, send="ping\r\n", expect="PING")
    assert result.status is CheckStatus.UP, result.message


async def test_unexpected_banner_is_down_with_a_sanitised_excerpt() -> None:
    noisy = b"HTTP/1.1 400 Bad Request\r\n\x1b[31m\xe2\x80\xae" + b"x" * 500
    async with LoopbackServer(banner(noisy, then=lambda r, w: _close(w))) as server:
        result = await run(port=server.port, expect="SSH-")
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(
        "unexpected answer: 'SSH-' not found before the server closed the connection; "
        "got 'HTTP/1.1 400 Bad Request\\r\\n\\x1b[31m\\u202exxx"
    )
    assert result.message.endswith("…")
    assert len(result.message) < 200
    assert "\x1b" not in result.message and "\u202e" not in result.message


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()


async def test_server_closing_without_a_word_is_down() -> None:
    async with LoopbackServer(lambda r, w: _close(w)) as server:
        result = await run(port=server.port, expect_regex="^OK")
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        "server closed the connection without sending anything (expected regex '^OK')"
    )


async def test_reading_stops_at_the_limit() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"y" * 65536)
            await writer.drain()

    async with LoopbackServer(flood) as server:
        result = await run(port=server.port, expect="needle")
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(
        f"unexpected answer: 'needle' not found in the first {READ_LIMIT} bytes"
    )
    assert result.details["bytes_received"] == READ_LIMIT


async def test_refused_port_is_down() -> None:
    port = refused_port()
    result = await run(port=port)
    assert result.status is CheckStatus.DOWN
    assert result.message == f"connection refused by 127.0.0.1:{port}"
    assert result.latency is None


async def test_reset_is_down() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        sock = writer.get_extra_info("socket")
        # SO_LINGER 0: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with LoopbackServer(reset) as server:
        port = server.port
        result = await run(port=port, send="hello\n", expect="OK")
    assert result.status is CheckStatus.DOWN
    assert result.message == f"connection reset by 127.0.0.1:{port}"
    assert "connect" in result.details["phases"]


async def test_silent_server_times_out_naming_what_was_awaited() -> None:
    async with LoopbackServer(banner(b"* hello ")) as server:
        result = await run(timeout=0.3, port=server.port, expect="* OK")
    assert result.status is CheckStatus.DOWN
    assert result.message == "timed out after 0.3s waiting for '* OK'; got '* hello '"


async def test_slow_answer_is_degraded() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.15)
        writer.write(b"+OK ready\r\n")
        await writer.drain()
        await reader.read()

    async with LoopbackServer(slow) as server:
        result = await run(port=server.port, expect="+OK", response_time_degraded="100ms")
    assert result.status is CheckStatus.DEGRADED
    assert result.message.startswith("'+OK' received in 0.1")
    assert result.message.endswith("(threshold 0.1s)")


async def test_tls_banner_with_a_private_ca_is_up_with_certificate_facts(
    root: Issued, root_file: Path
) -> None:
    leaf = make_cert("localhost", "127.0.0.1", issuer=root)
    handler = banner(b"* OK IMAP4rev1 ready\r\n")
    async with LoopbackServer(handler, tls=server_context(leaf)) as server:
        result = await run(
            port=server.port,
            tls=True,
            ca_file=str(root_file),
            server_name="localhost",
            expect="* OK",
        )
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith("'* OK' received over TLSv1.")
    assert set(result.details["phases"]) == {"connect", "tls", "response"}
    assert result.details["cert"]["sans"] == ["localhost", "127.0.0.1"]
    assert result.details["cipher"]


async def test_tls_against_an_untrusted_certificate_is_down(root: Issued) -> None:
    leaf = make_cert("127.0.0.1")  # self-signed
    async with LoopbackServer(silent, tls=server_context(leaf)) as server:
        result = await run(port=server.port, tls=True)
    assert result.status is CheckStatus.DOWN
    assert result.message == "TLS handshake failed: self-signed certificate"
    assert "connect" in result.details["phases"]


async def test_tls_without_verification_accepts_any_certificate() -> None:
    leaf = make_cert("elsewhere.test")
    async with LoopbackServer(silent, tls=server_context(leaf)) as server:
        result = await run(port=server.port, tls=True, verify=False)
    assert result.status is CheckStatus.UP, result.message


async def test_tls_to_a_plain_port_is_down_with_a_hint() -> None:
    async with LoopbackServer(banner(b"SSH-2.0-x\r\n" * 20)) as server:
        result = await run(port=server.port, tls=True, verify=False)
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("TLS handshake failed: ")
    assert "did not answer in TLS" in result.message or "closed" in result.message


async def test_tls_handshake_that_never_completes_times_out() -> None:
    async with LoopbackServer(silent) as server:
        result = await run(timeout=0.3, port=server.port, tls=True, verify=False)
    assert result.status is CheckStatus.DOWN
    assert result.message == "timed out after 0.3s (TLS handshake)"


async def test_ipv6_loopback() -> None:
    try:
        listener = await asyncio.start_server(silent, "::1", 0)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        result = await run(host="[::1]", port=port)
    assert result.status is CheckStatus.UP, result.message


def test_valid_config_loads(make_config: MakeConfig, root_file: Path) -> None:
    config = make_config(
        f"""
[[monitors]]
id = "imap"
name = "IMAP"
type = "tcp"
host = "mail.home.arpa"
port = 993
tls = true
ca_file = "{root_file}"
expect = "* OK"
response_time_degraded = "300ms"
"""
    )
    options = config.monitors[0].options
    assert isinstance(options, TcpOptions)
    assert options.port == 993 and options.response_time_degraded == 0.3


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ({"port": 22, "server_name": "x.test"}, "server_name needs tls = true"),
        ({"port": 22, "server_name": "x.test", "verify": False}, "server_name and verify need"),
        ({"port": 22, "expect": "a", "expect_regex": "b"}, "not both"),
        ({"port": 22, "expect_regex": "("}, "invalid regular expression"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"port": "22"}, "port"),
        ({}, "port"),
        ({"port": 22, "host": "https://nas/"}, "not a URL"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: MakeConfig, keys: dict[str, Any], fragment: str
) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in {"host": "nas.home.arpa", **keys}.items()]
    text = '[[monitors]]\nid = "t"\nname = "T"\ntype = "tcp"\n' + "\n".join(lines)
    with pytest.raises(ConfigError, match=fragment):
        make_config(text)
