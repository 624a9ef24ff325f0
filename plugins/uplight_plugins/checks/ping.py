"""The ``ping`` check: ICMP echo requests, judged on replies, loss and round-trip time.

Requests go out every ``packet_interval`` while one receiver matches replies by
identifier and sequence, so a reply slower than the interval still counts (as with
ping(8)). Sockets come from icmplib: an unprivileged ICMP datagram socket where the
kernel allows it (Linux: the process's group in ``net.ipv4.ping_group_range``),
else a raw socket (root or ``CAP_NET_RAW``); when neither is allowed the result is
``down`` with a message saying what to change. ``check`` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from icmplib import (
    AsyncSocket,
    ICMPError,
    ICMPRequest,
    ICMPSocketError,
    ICMPv4Socket,
    ICMPv6Socket,
    SocketPermissionError,
    TimeoutExceeded,
)
from icmplib.utils import unique_identifier
from pydantic import BeforeValidator, Field, model_validator

from uplight import (
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    Duration,
    MetricTime,
    hookimpl,
)

from .tls import HostName

PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")
_ECHO_REPLY = {4: 0, 6: 129}
_ECHO_REQUEST = {4: 8, 6: 128}  # our own requests, seen by a raw socket on loopback
_MAX_ERRORS = 5
RTT_STATS = ("min", "avg", "max")


def _percent(value: Any) -> Any:
    # "20%" reads best in TOML; a bare number is taken as percent too.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().endswith("%"):
        with contextlib.suppress(ValueError):
            return float(value.strip().removesuffix("%"))
    raise ValueError(f'invalid percentage {value!r}: write it like "20%"')


Percent = Annotated[float, BeforeValidator(_percent), Field(ge=0, lt=100)]


class PingOptions(CheckOptions):
    host: HostName
    count: int = Field(3, ge=1, le=100)
    packet_interval: Duration = Field(0.2, ge=0.01)
    ip_version: Literal[4, 6] | None = None
    packet_loss_degraded: Percent | None = None
    response_time_degraded: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PingOptions:
        try:
            version = ipaddress.ip_address(self.host).version
        except ValueError:  # a name: it may have addresses of either version
            return self
        if self.ip_version is not None and self.ip_version != version:
            raise ValueError(f"ip_version = {self.ip_version} but host is an IPv{version} address")
        return self


def _loss_ratio(percent: Any, time: MetricTime) -> float | None:
    if isinstance(percent, int | float) and not isinstance(percent, bool):
        return percent / 100
    return None


class PingCheck(CheckType):
    name = "ping"
    Options = PingOptions
    description = "ICMP echo (ping): packet loss and round-trip times, IPv4 and IPv6"
    metrics = (
        CheckMetric(
            "uplight_ping_packet_loss_ratio",
            "Share of the last ping check's echo requests that got no reply (0 to 1).",
            key="packet_loss_percent",
            read=_loss_ratio,
        ),
        CheckMetric(
            "uplight_ping_rtt_seconds",
            "Round-trip times of the last ping check's replies.",
            key="rtt",
            labels={"stat": RTT_STATS},
        ),
    )

    async def check(self, options: PingOptions, context: CheckContext) -> CheckResult:
        try:
            return await _check(options, context.timeout)
        except Exception as exc:  # a bug here must cost one check, not a traceback
            return CheckResult.down(f"ping check failed: {type(exc).__name__}: {exc}")

    def public_summary(self, options: PingOptions) -> dict[str, Any]:
        return {"host": options.host, "count": options.count}


class NotPermitted(Exception):
    """Neither an unprivileged nor a raw ICMP socket may be opened here."""


@dataclass
class Exchange:
    """What happened to the echo requests of one check."""

    count: int
    sent: dict[int, ICMPRequest] = field(default_factory=dict)  # by sequence
    rtts: dict[int, float] = field(default_factory=dict)  # seconds, by sequence
    answered: set[int] = field(default_factory=set)  # echo replies and ICMP errors
    errors: list[str] = field(default_factory=list)

    def note(self, error: str) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(error)

    @property
    def loss_percent(self) -> float:
        return round(100 * (self.count - len(self.rtts)) / self.count, 2)


async def _check(options: PingOptions, timeout: float) -> CheckResult:
    spread = (options.count - 1) * options.packet_interval
    if spread > timeout / 2:
        return CheckResult.down(
            f"count {options.count} at packet_interval {options.packet_interval:g}s takes "
            f"{spread:g}s, more than half the monitor's timeout ({timeout:g}s): "
            "lower count or packet_interval, or raise timeout"
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            address = await _resolve(options.host, options.ip_version)
    except TimeoutError:
        return CheckResult.down(f"timed out after {timeout:g}s resolving {options.host}")
    except socket.gaierror as exc:
        return CheckResult.down(f"DNS lookup failed for {options.host}: {exc.strerror}")
    version = ipaddress.ip_address(address.split("%")[0]).version
    try:
        sock, mode = open_socket(version)
    except NotPermitted as exc:
        return CheckResult.down(str(exc), address=address)
    except ICMPSocketError as exc:
        return CheckResult.down(f"cannot open an ICMPv{version} socket: {exc}", address=address)
    with sock:
        exchange = await _exchange(sock, address, version, options, deadline)
    return _judge(options, exchange, address, mode)


async def _resolve(host: str, ip_version: int | None) -> str:
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(ip_version or 0, socket.AF_UNSPEC)
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, None, family=family, type=socket.SOCK_DGRAM
    )
    return str(infos[0][4][0])


def open_socket(version: int) -> tuple[AsyncSocket, Literal["datagram", "raw"]]:
    """An unprivileged datagram socket if allowed, else a raw one; NotPermitted if neither."""
    kind = ICMPv6Socket if version == 6 else ICMPv4Socket
    with contextlib.suppress(SocketPermissionError):
        return AsyncSocket(kind(None, privileged=False)), "datagram"
    try:
        return AsyncSocket(kind(None, privileged=True)), "raw"
    except SocketPermissionError:
        raise NotPermitted(_permission_message()) from None


def _permission_message() -> str:
    gid = os.getgid()
    try:
        low, high = (int(n) for n in PING_GROUP_RANGE.read_text().split())
        where = f"group {gid} is outside net.ipv4.ping_group_range ({low} {high})"
    except (OSError, ValueError):
        where = f"group {gid} may not use them"
    return (
        f"ICMP not permitted: unprivileged ICMP sockets are refused ({where}) and raw ones "
        "need CAP_NET_RAW; set the sysctl net.ipv4.ping_group_range = "
        f'"0 2147483647" (or include {gid}), or grant CAP_NET_RAW '
        "(systemd: AmbientCapabilities=CAP_NET_RAW)"
    )


async def _exchange(
    sock: AsyncSocket, address: str, version: int, options: PingOptions, deadline: float
) -> Exchange:
    exchange = Exchange(options.count)
    ident = unique_identifier()

    async def send_all() -> None:
        for sequence in range(options.count):
            if sequence:
                await asyncio.sleep(options.packet_interval)
            request = ICMPRequest(destination=address, id=ident, sequence=sequence)
            try:
                sock.send(request)  # a datagram socket's kernel swaps in its own id
            except ICMPSocketError as exc:
                exchange.note(_socket_error(exc))
                continue
            exchange.sent[sequence] = request

    loop = asyncio.get_running_loop()
    sender = asyncio.create_task(send_all())
    try:
        while not (sender.done() and exchange.answered >= exchange.sent.keys()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            receiving = asyncio.ensure_future(sock.receive(None, remaining))
            waiting = {receiving} if sender.done() else {receiving, sender}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():  # the last request went out: look at the tally again
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiving
                continue
            try:
                reply = receiving.result()
            except TimeoutExceeded:
                break
            except ICMPSocketError as exc:  # a datagram socket reports ICMP errors this way
                exchange.note(_socket_error(exc))
                continue
            _record(exchange, reply, version)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return exchange


def _record(exchange: Exchange, reply: Any, version: int) -> None:
    request = exchange.sent.get(reply.sequence)
    if request is None or reply.id != request.id or reply.sequence in exchange.answered:
        return  # another pinger's traffic, or a duplicate
    if reply.type == _ECHO_REQUEST[version]:
        return
    exchange.answered.add(reply.sequence)
    if reply.type == _ECHO_REPLY[version]:
        exchange.rtts[reply.sequence] = max(0.0, reply.time - request.time)
        return
    try:
        reply.raise_for_status()
    except ICMPError as exc:
        exchange.note(str(exc))


def _socket_error(exc: ICMPSocketError) -> str:
    text = str(exc)
    # icmplib passes on str(OSError): "[Errno 101] Network is unreachable"
    return text.split("] ", 1)[1].lower() if text.startswith("[Errno") and "] " in text else text


def _judge(options: PingOptions, exchange: Exchange, address: str, mode: str) -> CheckResult:
    target = address if address == options.host else f"{options.host} ({address})"
    received, count = len(exchange.rtts), exchange.count
    loss = exchange.loss_percent
    details: dict[str, Any] = {
        "address": address,
        "socket": mode,
        "packets_sent": len(exchange.sent),
        "packets_received": received,
        "packet_loss_percent": loss,
    }
    if exchange.errors:
        details["errors"] = exchange.errors
    if not received:
        why = f"; {exchange.errors[0]}" if exchange.errors else ""
        return CheckResult.down(f"no reply from {target}: {count} sent, 100% loss{why}", **details)
    rtts = list(exchange.rtts.values())
    avg = sum(rtts) / len(rtts)
    stats = {"min": min(rtts), "avg": avg, "max": max(rtts)}
    details["rtt"] = {k: round(v, 6) for k, v in stats.items()}
    latency = round(avg, 6)
    summary = f"{received} of {count} replies, rtt min/avg/max " + "/".join(
        _ms(stats[k]) for k in RTT_STATS
    )
    summary += " ms"
    threshold = options.packet_loss_degraded
    if threshold is not None and loss > threshold:
        message = f"{loss:g}% packet loss (threshold {threshold:g}%): {summary}"
        return CheckResult.degraded(message, latency, **details)
    slow = options.response_time_degraded
    if slow is not None and avg > slow:
        message = f"rtt avg {_ms(avg)} ms (threshold {slow:g}s): {summary}"
        return CheckResult.degraded(message, latency, **details)
    return CheckResult.up(summary, latency, **details)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(PingCheck)
