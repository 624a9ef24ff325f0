"""uplight.memory: the malloc arena cap, the one worker thread and the heap trim."""

from __future__ import annotations

import asyncio
import ctypes
import subprocess
import sys
import threading

import pytest

from uplight import memory


class FakeLibc:
    def __init__(self, accepts: bool = True) -> None:
        self.accepts = accepts
        self.mallopts: list[tuple[int, int]] = []
        self.trimmed = 0

    def mallopt(self, param: int, value: int) -> int:
        self.mallopts.append((param, value))
        return 1 if self.accepts else 0

    def malloc_trim(self, pad: int) -> int:
        self.trimmed += 1
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: fake)
    monkeypatch.setattr(memory, "_last_trim", float("-inf"))
    return fake


def test_arenas_capped_and_threshold_fixed(libc: FakeLibc) -> None:
    said = memory.tune_allocator({})
    assert "2 malloc arenas" in said and "128 KiB" in said
    assert libc.mallopts == [
        (memory.M_ARENA_MAX, memory.ARENAS),
        (memory.M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD),
    ]


@pytest.mark.parametrize(
    ("environ", "left"),
    [
        ({"MALLOC_ARENA_MAX": "8"}, memory.M_ARENA_MAX),
        ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"}, memory.M_ARENA_MAX),
        ({"MALLOC_MMAP_THRESHOLD_": "65536"}, memory.M_MMAP_THRESHOLD),
        ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1"}, memory.M_MMAP_THRESHOLD),
    ],
)
def test_the_environment_wins(libc: FakeLibc, environ: dict[str, str], left: int) -> None:
    assert "from the environment" in memory.tune_allocator(environ)
    assert left not in [param for param, _ in libc.mallopts]
    assert len(libc.mallopts) == 1  # the other setting is still made


def test_not_glibc_or_refused_leaves_the_allocator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert "not glibc" in memory.tune_allocator({})
    assert memory.trim() is False
    monkeypatch.setattr(memory, "_glibc", lambda: FakeLibc(accepts=False))
    assert "refused" in memory.tune_allocator({})


def test_real_glibc_takes_the_calls() -> None:
    libc = memory._glibc()
    if libc is None:
        pytest.skip("not glibc")
    # A cap above glibc's default changes nothing in this test process.
    assert libc.mallopt(memory.M_ARENA_MAX, 64) == 1
    assert libc.malloc_trim(0) in (0, 1)
    assert isinstance(libc, ctypes.CDLL)


def test_trim_at_most_once_per_period(libc: FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: now[0])
    assert memory.trim() is True
    assert memory.trim() is False
    now[0] += memory.TRIM_EVERY
    assert memory.trim() is True
    assert libc.trimmed == 2


async def test_jobs_run_in_the_one_worker_and_trim_when_it_falls_idle(libc: FakeLibc) -> None:
    gate = threading.Event()
    names: list[str] = []

    def job(value: int) -> int:
        names.append(threading.current_thread().name)
        gate.wait(5)
        return value * 2

    first = memory.in_worker(job, 1)
    second = memory.in_worker(job, 2)  # queued behind the first: same thread
    await asyncio.sleep(0.05)
    assert libc.trimmed == 0
    gate.set()
    assert await asyncio.gather(first, second) == [2, 4]
    assert len(set(names)) == 1 and names[0].startswith(memory.WORKER_NAME)
    assert libc.trimmed == 1  # once, when the queue emptied, not after each job
    assert memory._pending == 0


async def test_a_failing_job_still_counts_as_done(libc: FakeLibc) -> None:
    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        await memory.in_worker(boom)
    assert memory._pending == 0 and libc.trimmed == 1


def test_serve_loads_only_its_own_command_group() -> None:
    """The other commands' modules would stay in the server's memory for its life."""
    script = (
        "import sys\n"
        "from uplight.cli import main\n"
        "try:\n"
        "    main(['serve', '--listen', 'not-an-address'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('uplight.cli.'))))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    modules = set(loaded.stdout.split())
    assert "uplight.cli.core" in modules, loaded.stderr
    assert not modules & {"uplight.cli.probe", "uplight.cli.status", "uplight.cli.schema"}
    assert "--listen" in loaded.stderr  # the serve parser itself refused the value
