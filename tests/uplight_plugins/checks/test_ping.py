"""The ping check: real ICMP echo to 127.0.0.1 and ::1 where this machine allows it.

Opening an ICMP socket needs the process's group in net.ipv4.ping_group_range (a
datagram socket) or CAP_NET_RAW (a raw one). Tests that need one skip, saying which
was refused, when neither is allowed. The "neither is allowed" message itself is
tested by refusing socket creation at icmplib's socket boundary, the one thing a
test cannot arrange for real without changing the machine.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import icmplib
import pytest
from icmplib import ICMPv4Socket, ICMPv6Socket, SocketPermissionError

from uplight import CheckContext, CheckResult, CheckStatus
from uplight.config import Config, ConfigError
from uplight_plugins.checks import ping as ping_module
from uplight_plugins.checks.ping import Exchange, PingCheck, PingOptions, uplight_check_types

pytestmark = pytest.mark.timeout(10)

MakeConfig = Callable[[str], Config]
FAST = {"count": 3, "packet_interval": "10ms"}


async def run(timeout: float = 1.0, **options: Any) -> CheckResult:
    validated = PingOptions.model_validate({**FAST, **options})
    result = await PingCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))
    json.dumps(result.details)  # the store needs JSON
    return result


def icmp_or_skip(version: int) -> None:
    """Skip, saying why, unless this process may open some ICMP socket for ``version``."""
    try:
        sock, _ = ping_module.open_socket(version)
    except ping_module.NotPermitted as exc:
        pytest.skip(f"this machine allows no ICMP socket to this process: {exc}")
    except icmplib.ICMPSocketError as exc:
        pytest.skip(f"no ICMPv{version} socket here: {exc}")
    sock.close()


def test_registers_the_ping_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [PingCheck]


@pytest.mark.parametrize(("host", "version"), [("127.0.0.1", 4), ("::1", 6)])
async def test_loopback_answers_every_echo(host: str, version: int) -> None:
    icmp_or_skip(version)
    result = await run(host=host, count=4)
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith("4 of 4 replies, rtt min/avg/max ")
    assert result.message.endswith(" ms")
    details = result.details
    assert details["packets_sent"] == details["packets_received"] == 4
    assert details["packet_loss_percent"] == 0
    assert details["address"] == host
    assert details["socket"] in ("datagram", "raw")
    rtt = details["rtt"]
    assert 0 <= rtt["min"] <= rtt["avg"] <= rtt["max"] < 1
    assert result.latency == rtt["avg"]


async def test_datagram_socket_where_the_system_allows_it() -> None:
    try:
        ICMPv4Socket(None, privileged=False).close()
    except SocketPermissionError:
        try:
            group_range = " ".join(ping_module.PING_GROUP_RANGE.read_text().split())
        except OSError:
            group_range = "unknown"
        pytest.skip(
            "unprivileged ICMP datagram sockets are refused here "
            f"(net.ipv4.ping_group_range = {group_range!r}, gid {os.getgid()})"
        )
    result = await run(host="127.0.0.1")
    assert result.status is CheckStatus.UP, result.message
    assert result.details["socket"] == "datagram"


def _refuse(kinds: set[int], code: int = errno.EACCES) -> Callable[[Any, int], socket.socket]:
    originals = {4: ICMPv4Socket._create_socket, 6: ICMPv6Socket._create_socket}

    def create(self: Any, kind: int) -> socket.socket:
        if kind in kinds:
            raise PermissionError(code, "Permission denied")
        return originals[self._IP_VERSION](self, kind)

    return create


async def test_falls_back_to_a_raw_socket_when_datagram_sockets_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        ICMPv4Socket(None, privileged=True).close()
    except SocketPermissionError:
        pytest.skip("raw ICMP sockets need root or CAP_NET_RAW, which this process lacks")
    monkeypatch.setattr(ICMPv4Socket, "_create_socket", _refuse({socket.SOCK_DGRAM}))
    result = await run(host="127.0.0.1")
    assert result.status is CheckStatus.UP, result.message
    assert result.details["socket"] == "raw"


@pytest.mark.parametrize(("host", "code"), [("127.0.0.1", errno.EACCES), ("::1", errno.EPERM)])
async def test_neither_socket_allowed_is_down_saying_what_to_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str, code: int
) -> None:
    both = {socket.SOCK_DGRAM, socket.SOCK_RAW}
    monkeypatch.setattr(ICMPv4Socket, "_create_socket", _refuse(both, code))
    monkeypatch.setattr(ICMPv6Socket, "_create_socket", _refuse(both, code))
    sysctl = tmp_path / "ping_group_range"
    sysctl.write_text("1\t0\n")  # the kernel's default: no group may
    monkeypatch.setattr(ping_module, "PING_GROUP_RANGE", sysctl)
    result = await run(host=host)
    assert result.status is CheckStatus.DOWN
    gid = os.getgid()
    assert result.message == (
        f"ICMP not permitted: unprivileged ICMP sockets are refused (group {gid} is outside "
        "net.ipv4.ping_group_range (1 0)) and raw ones need CAP_NET_RAW; set the sysctl "
        f'net.ipv4.ping_group_range = "0 2147483647" (or include {gid}), or grant '
        "CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW)"
    )
    assert result.details == {"address": host}


class Dropping:
    """A real ICMP socket that never sends the requests whose sequence is in ``drop``."""

    def __init__(self, sock: Any, drop: set[int]) -> None:
        self._sock, self._drop = sock, drop

    def send(self, request: icmplib.ICMPRequest) -> None:
        if request.sequence not in self._drop:
            self._sock.send(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __enter__(self) -> Dropping:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def drop_requests(monkeypatch: pytest.MonkeyPatch, drop: set[int]) -> None:
    real = ping_module.open_socket

    def open_socket(version: int) -> tuple[Any, str]:
        sock, mode = real(version)
        return Dropping(sock, drop), mode

    monkeypatch.setattr(ping_module, "open_socket", open_socket)


async def test_loss_above_the_threshold_is_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    icmp_or_skip(4)
    drop_requests(monkeypatch, {1})
    result = await run(timeout=0.5, host="127.0.0.1", count=4, packet_loss_degraded="20%")
    assert result.status is CheckStatus.DEGRADED
    assert result.message.startswith("25% packet loss (threshold 20%): 3 of 4 replies, rtt ")
    assert result.details["packets_sent"] == 4
    assert result.details["packets_received"] == 3
    assert result.details["packet_loss_percent"] == 25


async def test_loss_within_the_threshold_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    icmp_or_skip(4)
    drop_requests(monkeypatch, {0})
    result = await run(timeout=0.5, host="127.0.0.1", count=4, packet_loss_degraded=25)
    assert result.status is CheckStatus.UP, result.message
    assert result.message.startswith("3 of 4 replies")


async def test_all_lost_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    icmp_or_skip(6)
    drop_requests(monkeypatch, {0, 1, 2})
    result = await run(timeout=0.3, host="::1")
    assert result.status is CheckStatus.DOWN
    assert result.message == "no reply from ::1: 3 sent, 100% loss"
    assert result.latency is None
    assert "rtt" not in result.details


async def test_slow_replies_are_degraded() -> None:
    icmp_or_skip(4)
    result = await run(host="127.0.0.1", response_time_degraded="0ms")
    assert result.status is CheckStatus.DEGRADED
    assert result.message.startswith("rtt avg ")
    assert "(threshold 0s): 3 of 3 replies" in result.message


async def test_a_count_that_cannot_fit_the_timeout_is_down_saying_so() -> None:
    result = await run(timeout=2.0, host="127.0.0.1", count=5, packet_interval="1s")
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        "count 5 at packet_interval 1s takes 4s, more than half the monitor's timeout (2s): "
        "lower count or packet_interval, or raise timeout"
    )


async def test_unresolvable_name_is_down() -> None:
    result = await run(host="nothing.invalid")
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith("DNS lookup failed for nothing.invalid: ")


def test_icmp_errors_count_as_lost_and_are_reported() -> None:
    request = icmplib.ICMPRequest("192.0.2.1", id=7, sequence=0)
    request._time = 100.0  # as send() sets it
    exchange = Exchange(count=1, sent={0: request})
    unreachable = icmplib.ICMPReply("192.0.2.254", 4, 7, 0, 3, 1, 28, 100.01)
    ping_module._record(exchange, unreachable, 4)
    stray = SimpleNamespace(sequence=0, id=8, type=0, time=100.02)  # another pinger's reply
    ping_module._record(exchange, stray, 4)
    assert exchange.answered == {0} and exchange.rtts == {}
    result = ping_module._judge(PingOptions(host="192.0.2.1"), exchange, "192.0.2.1", "raw")
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        "no reply from 192.0.2.1: 1 sent, 100% loss; Destination host unreachable"
    )
    assert result.details["errors"] == ["Destination host unreachable"]


def test_valid_config_loads(make_config: MakeConfig) -> None:
    config = make_config(
        """
[[monitors]]
id = "router"
name = "Router"
type = "ping"
timeout = "5s"
host = "192.168.1.1"
count = 5
packet_interval = "500ms"
packet_loss_degraded = "20%"
response_time_degraded = "50ms"
"""
    )
    options = config.monitors[0].options
    assert isinstance(options, PingOptions)
    assert options.packet_loss_degraded == 20.0
    assert options.packet_interval == 0.5 and options.response_time_degraded == 0.05


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ({"packet_loss_degraded": "lots"}, "invalid percentage 'lots'"),
        ({"packet_loss_degraded": "100%"}, "less than 100"),
        ({"packet_loss_degraded": True}, "invalid percentage True"),
        ({"count": 0}, "greater than or equal to 1"),
        ({"count": "3"}, "count"),
        ({"host": "10.0.0.1", "ip_version": 6}, "ip_version = 6 but host is an IPv4 address"),
        ({"ip_version": 5}, "ip_version"),
        ({"packet_interval": "1ms"}, "at least 10ms"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: MakeConfig, keys: dict[str, Any], fragment: str
) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in {"host": "nas.home.arpa", **keys}.items()]
    text = '[[monitors]]\nid = "p"\nname = "P"\ntype = "ping"\n' + "\n".join(lines)
    with pytest.raises(ConfigError, match=fragment):
        make_config(text)
