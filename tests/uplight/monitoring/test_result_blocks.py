"""The packed form of raw results: what is encoded decodes to the same thing."""

from __future__ import annotations

import random

import pytest

from uplight.models import CheckStatus
from uplight.monitoring.result_blocks import (
    BLOCK_MS,
    DETAILS_EMPTY,
    DETAILS_INLINE,
    DETAILS_NEWEST,
    Entry,
    block_start,
    decode,
    encode,
    latency_us,
)

START = 1_710_072_000_000  # 2024-03-10 12:00 UTC, a whole hour


def random_entry(rng: random.Random) -> Entry:
    mode = rng.choice((DETAILS_EMPTY, DETAILS_INLINE, DETAILS_NEWEST))
    return Entry(
        checked_at=START + rng.randrange(BLOCK_MS),
        status=rng.choice(list(CheckStatus)),
        latency_us=rng.choice((None, 0, 1, 127, 128, 16_383, 16_384, 2**40, rng.randrange(10**7))),
        message_id=rng.choice((0, 1, 127, 128, 2**35)),
        reason_id=rng.choice((None, 0, 5, 300)),
        in_maintenance=rng.random() < 0.5,
        details_mode=mode,
        details='{"é":"ü","n":[1,2]}' if mode == DETAILS_INLINE else None,
    )


def test_entries_round_trip_oldest_first() -> None:
    rng = random.Random(7)
    entries = [random_entry(rng) for _ in range(500)]
    blob = b"".join(encode(e) for e in entries)
    assert decode(START, blob) == sorted(entries, key=lambda e: e.checked_at)


def test_results_in_the_same_millisecond_keep_their_order() -> None:
    entries = [
        Entry(START + 5, CheckStatus.UP, None, 1, None, False),
        Entry(START + 5, CheckStatus.DOWN, None, 2, None, False),
        Entry(START + 1, CheckStatus.DEGRADED, 10, 3, None, False),
        Entry(START + 5, CheckStatus.UP, None, 4, None, True),
    ]
    decoded = decode(START, b"".join(encode(e) for e in entries))
    assert [e.message_id for e in decoded] == [3, 1, 2, 4]


def test_an_up_result_every_minute_takes_about_eight_bytes() -> None:
    entry = Entry(START + 59_999, CheckStatus.UP, latency_us(0.0123), 900, None, False)
    assert len(encode(entry)) == 8  # offset 3, flags 1, latency 2, message 2


def test_a_damaged_block_is_refused() -> None:
    entry = encode(Entry(START, CheckStatus.UP, 5000, 300, None, False))
    with pytest.raises(ValueError, match="truncated"):
        decode(START, entry[:-1])
    with pytest.raises(ValueError, match="flags"):
        decode(START, entry[:3] + bytes([0x80]) + entry[4:])
    with pytest.raises(ValueError, match="flags"):
        decode(START, entry[:3] + bytes([0x03]) + entry[4:])


def test_block_starts_and_latencies() -> None:
    assert block_start(START + BLOCK_MS - 1) == START
    assert block_start(START + BLOCK_MS) == START + BLOCK_MS
    assert latency_us(0.125) == 125_000
    assert latency_us(1e-7) == 0
    assert latency_us(None) is None
    # The scheduler refuses these from a plugin; the store does not fail a batch on them.
    assert latency_us(float("nan")) is None
    assert latency_us(float("inf")) is None
    assert latency_us(-1.0) is None
