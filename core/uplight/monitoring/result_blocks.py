"""How raw check results are packed on disk: one block per monitor per UTC hour.

A block is a row of ``result_blocks``; its ``entries`` column is the hour's results,
each appended as it arrives, so a flush writes one row per monitor instead of one row
(and two index entries) per result. An entry is about 8 bytes:

===========  =====================================================================
offset       3 bytes, little-endian: milliseconds since the block's start (< 1 hour)
flags        1 byte: bits 0-1 status (0 up, 1 degraded, 2 down), bit 2 in
             maintenance, bit 3 has a latency, bits 4-5 where the details are
             (``DETAILS_*``), bit 6 has an error reason, bit 7 reserved (0)
latency      varint, integer microseconds (only with bit 3)
message      varint, a ``result_texts`` id; 0 is the empty message
reason       varint, a ``result_texts`` id (only with bit 6)
details      varint length, then the JSON text, UTF-8 (only when inline)
===========  =====================================================================

Varints are unsigned LEB128 (7 bits a byte, low bits first). Entries of one block
are kept in arrival order; reading sorts them by time, stably, so of two results in
the same millisecond the later one stays the newer, as row ids ordered them before.
This module is pure: no SQL, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..models import CheckStatus

BLOCK_MS = 3_600_000

STATUS_CODES: dict[CheckStatus, int] = {
    CheckStatus.UP: 0,
    CheckStatus.DEGRADED: 1,
    CheckStatus.DOWN: 2,
}
STATUSES: tuple[CheckStatus, ...] = (CheckStatus.UP, CheckStatus.DEGRADED, CheckStatus.DOWN)

DETAILS_EMPTY = 0  # {} (or not kept)
DETAILS_INLINE = 1  # the JSON text follows in the entry
# An up result's details are kept only while it is its monitor's newest result: they
# live in ``latest_details`` and are read for this entry only if it is still the newest.
DETAILS_NEWEST = 2

_STATUS_BITS = 0b11
_MAINTENANCE = 1 << 2
_LATENCY = 1 << 3
_DETAILS_SHIFT = 4
_REASON = 1 << 6
_RESERVED = 1 << 7


@dataclass(frozen=True, slots=True)
class Entry:
    checked_at: int  # unix milliseconds, UTC
    status: CheckStatus
    latency_us: int | None
    message_id: int
    reason_id: int | None  # None: no error reason
    in_maintenance: bool
    details_mode: int = DETAILS_EMPTY
    details: str | None = None  # the JSON text, when inline


def block_start(checked_at: int) -> int:
    return checked_at - checked_at % BLOCK_MS


def latency_us(seconds: float | None) -> int | None:
    """Latency as whole microseconds. The scheduler refuses a negative or non-finite
    latency from a plugin; should one reach the store anyway, it is kept as none."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return round(seconds * 1_000_000)


def encode(entry: Entry) -> bytes:
    offset = entry.checked_at - block_start(entry.checked_at)
    flags = STATUS_CODES[entry.status] | (entry.details_mode << _DETAILS_SHIFT)
    if entry.in_maintenance:
        flags |= _MAINTENANCE
    if entry.latency_us is not None:
        flags |= _LATENCY
    if entry.reason_id is not None:
        flags |= _REASON
    out = bytearray(offset.to_bytes(3, "little"))
    out.append(flags)
    if entry.latency_us is not None:
        _put_varint(out, entry.latency_us)
    _put_varint(out, entry.message_id)
    if entry.reason_id is not None:
        _put_varint(out, entry.reason_id)
    if entry.details_mode == DETAILS_INLINE:
        text = (entry.details or "{}").encode()
        _put_varint(out, len(text))
        out += text
    return bytes(out)


def decode(start: int, blob: bytes) -> list[Entry]:
    """The entries of the block starting at ``start``, oldest first (ties: arrival order)."""
    try:
        entries, pos = _decode(start, memoryview(blob))
    except IndexError:
        pos = -1
    if pos != len(blob):
        raise ValueError(f"result block {start}: truncated entry")
    entries.sort(key=lambda e: e.checked_at)  # stable: arrival order within a millisecond
    return entries


def _decode(start: int, data: memoryview) -> tuple[list[Entry], int]:
    entries = []
    pos, end = 0, len(data)
    while pos < end:
        offset = int.from_bytes(data[pos : pos + 3], "little")
        flags = data[pos + 3]
        pos += 4
        if flags & _RESERVED or flags & _STATUS_BITS == 3:
            raise ValueError(f"result block {start}: unknown entry flags {flags:#04x}")
        latency = None
        if flags & _LATENCY:
            latency, pos = _get_varint(data, pos)
        message_id, pos = _get_varint(data, pos)
        reason_id = None
        if flags & _REASON:
            reason_id, pos = _get_varint(data, pos)
        mode = (flags >> _DETAILS_SHIFT) & 0b11
        details = None
        if mode == DETAILS_INLINE:
            size, pos = _get_varint(data, pos)
            details = bytes(data[pos : pos + size]).decode()
            pos += size
        entries.append(
            Entry(
                start + offset,
                STATUSES[flags & _STATUS_BITS],
                latency,
                message_id,
                reason_id,
                bool(flags & _MAINTENANCE),
                mode,
                details,
            )
        )
    return entries, pos


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
