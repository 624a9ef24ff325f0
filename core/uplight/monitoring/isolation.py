"""Runs an untrusted check type's checks in a worker process of its own.

``[scheduler] isolate = ["sometype"]`` opts a check type in. Its checks then run
one at a time in a spawned process (one per type) that imports the check type
by its module, builds it once and runs each check with ``asyncio.run``: a check
that blocks, calls ``sys.exit`` or crashes the interpreter can no longer hold
the event loop or end the service. A check cut off at its timeout (or by
shutdown) takes its worker with it, since the worker may be hung: the worker
is killed and a new one started for the next check. A worker that dies costs
the check it was running (``down``, the exit code named) and is restarted.

The cost: a process per isolated type, options and results that must pickle,
and the checks of one type run one at a time (the wait for the worker, like
the wait for the concurrency cap, is not part of a check's timeout).

The start and the check run on real time, as processes do; the scheduler's
timeout around each check still goes by its clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import signal
from collections.abc import AsyncIterator, Iterable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ..checks import CheckContext, CheckType
from .faults import WorkerFailure, call_check, describe

log = logging.getLogger(__name__)

# Spawning an interpreter and importing a plugin: slow on a busy Raspberry Pi.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 2.0


class IsolatedChecks:
    """One worker process per isolated check type, started on first use."""

    def __init__(self, check_types: Mapping[str, CheckType], isolate: Iterable[str]) -> None:
        self._workers = {
            name: _Worker(name, type(check_types[name]))
            for name in dict.fromkeys(isolate)
            if name in check_types
        }

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._workers

    @contextlib.asynccontextmanager
    async def slot(self, type_name: str) -> AsyncIterator[_Worker]:
        """The type's worker, started and ready, for one check at a time."""
        worker = self._workers[type_name]
        async with worker.lock:
            await worker.start()
            yield worker

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self._workers.values()))

    def pids(self) -> dict[str, int | None]:
        """Each isolated type's worker process id (None when none runs)."""
        return {name: w.pid for name, w in self._workers.items()}


class _Worker:
    def __init__(self, type_name: str, cls: type[CheckType]) -> None:
        self.type_name = type_name
        self._target = (cls.__module__, cls.__qualname__)
        self.lock = asyncio.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._error: str | None = None  # why the worker could not start
        self._dead: list[BaseProcess] = []  # killed, not yet reaped

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Have a worker ready; a failure to start is kept for ``run`` to report."""
        self._reap()
        if self._process is not None and self._process.is_alive() and self._error is None:
            return
        if self._process is not None:
            log.warning(
                "check type %r: its worker process ended (exit code %s); starting another",
                self.type_name,
                self._process.exitcode,
            )
            self._discard()
        self._error = None
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, *self._target),
            name=f"uplight-check-{self.type_name}",
            daemon=True,
        )
        try:
            process.start()
        except Exception as exc:
            self._error = f"its worker process could not start: {describe(exc)}"
            parent.close()
            return
        finally:
            child.close()
        self._process, self._conn = process, parent
        try:
            async with asyncio.timeout(START_TIMEOUT):
                kind, value = await _receive(parent)
        except TimeoutError:
            self._error = f"its worker process did not start within {START_TIMEOUT:g}s"
        except (EOFError, OSError):
            self._error = f"its worker process died while starting ({await self._ended()})"
        else:
            if kind != "ready":
                self._error = str(value)
        if self._error is not None:
            log.error("check type %r: %s", self.type_name, self._error)
            self._kill()

    async def run(self, options: Any, context: CheckContext) -> Any:
        """One check in the worker, its return value unchecked (the scheduler checks it);
        the caller holds ``lock`` and called ``start``."""
        if self._error is not None or self._conn is None:
            raise WorkerFailure(self._error or "its worker process is not running")
        conn = self._conn
        try:
            conn.send((options, context))
        except (EOFError, OSError):
            code = await self._ended()
            self._discard()
            raise WorkerFailure(f"its worker process died ({code})") from None
        except Exception as exc:  # pickling
            raise WorkerFailure(
                f"its options cannot be sent to its worker process: {describe(exc)}"
            ) from None
        try:
            kind, value = await _receive(conn)
        except asyncio.CancelledError:
            # Cut off at its timeout or by shutdown: the worker may be hung in it.
            self._kill()
            raise
        except (EOFError, OSError):
            code = await self._ended()
            self._discard()
            raise WorkerFailure(f"its worker process died ({code})") from None
        if kind == "result":
            return value
        raise WorkerFailure(str(value))

    async def _ended(self) -> str:
        """How the worker ended, once it has (it closed its end of the pipe)."""
        process = self._process
        if process is None:
            return "not running"
        await asyncio.to_thread(process.join, 1.0)
        code = process.exitcode
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._dead.append(self._process)
        self._process = self._conn = None

    def _reap(self) -> None:
        still = []
        for process in self._dead:
            process.join(0)
            if process.exitcode is None:
                still.append(process)
            else:
                process.close()
        self._dead = still

    async def close(self) -> None:
        process = self._process
        self._discard()  # the closed pipe tells an idle worker to exit
        for dead in [p for p in self._dead if p is not process]:
            dead.kill()
        if process is not None:
            await asyncio.to_thread(process.join, STOP_TIMEOUT)
            if process.exitcode is None:
                process.kill()
        for dead in self._dead:
            await asyncio.to_thread(dead.join, STOP_TIMEOUT)
        self._reap()


async def _receive(conn: Connection) -> Any:
    """The worker's next message, without blocking the loop while it works."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()
    loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
    try:
        await readable
    finally:
        loop.remove_reader(fd)
    return conn.recv()  # EOFError once the worker is gone


# -- in the worker process ----------------------------------------------------------------


def _serve(conn: Connection, module: str, qualname: str) -> None:
    """The worker: build the check type once, then run each check it is sent."""
    # Ctrl-C reaches the whole process group; the parent decides when workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        check_type = found()
    except BaseException as exc:
        what = f"{module}.{qualname}: {describe(exc)}"
        conn.send(("failed", f"its worker process cannot load {what}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            options, context = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or is gone
        try:
            reply: tuple[str, Any] = (
                "result",
                asyncio.run(call_check(check_type, options, context)),
            )
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the worker goes on
            reply = ("raised", describe(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # a result that does not pickle
            conn.send(("raised", f"its result cannot be sent back: {describe(exc)}"))
