"""Token buckets and client addresses behind proxies."""

from __future__ import annotations

import pytest

from uplight.web.ratelimit import TokenBucketLimiter, client_ip, parse_networks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=1.0, burst=3, clock=clock)
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, True]
    assert limiter.allow("a") == (False, 1)
    assert limiter.allow("b")[0]  # another client has its own bucket
    clock.now += 1.0
    assert limiter.allow("a") == (True, 0)
    assert limiter.allow("a")[0] is False


def test_retry_after_reflects_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=60 / 60 / 10, burst=1, clock=clock)  # one per 10 s
    assert limiter.allow("a")[0]
    allowed, retry_after = limiter.allow("a")
    assert not allowed and retry_after == 10


def test_bucket_count_is_bounded() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock(), max_clients=10)
    for n in range(50):
        limiter.allow(f"10.0.0.{n}")
    assert len(limiter._buckets) == 10


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=0, burst=1)


TRUSTED = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: its header is ignored
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        (
            "127.0.0.1",
            "6.6.6.6, 198.51.100.7, 10.1.2.3",
            "198.51.100.7",
        ),  # forged left part ignored
        ("127.0.0.1", "10.0.0.5", "10.0.0.5"),  # only trusted hops: the leftmost one
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        (None, None, "unknown"),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, expected: str) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected
