"""The ``command`` check: run a local program and judge it by Nagios plugin rules.

The program runs in a session (and so a process group) of its own, with stdin from
/dev/null, a small environment and its output read to the end but kept only up to
64 KiB per stream, so a chatty program can neither block on a full pipe nor fill
memory. When it exits, whatever it left running in its group is killed; when the
monitor's timeout is up, the whole group is. Exit 0 is ``up``, 1 ``degraded``,
2, 3 and anything else ``down``; the first line of output is the message and the
performance data become details and (for declared words only) metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from uplight import (
    CheckContext,
    CheckMetric,
    CheckOptions,
    CheckResult,
    CheckType,
    ConfigPath,
    MetricTime,
    Secret,
    hookimpl,
)

from .excerpt import printable
from .perfdata import PluginOutput, parse_output

OUTPUT_LIMIT = 64 * 1024  # bytes kept of each of stdout and stderr
SHELL = "/bin/sh"
# Passed on from uplight's own environment; everything else the command needs goes in `env`
# (uplight's environment may hold the secrets of other monitors and channels).
INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
NAGIOS_STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
_LONG_OUTPUT_LIMIT = 2000
_STDERR_LIMIT = 500

# The only words the perfdata gauge's `label` may take (label values must be declared,
# docs/plugins.md): what the common monitoring-plugins print, then plain words for
# perfdata_metrics to map any other label onto.
PERFDATA_WORDS = (
    *("load1", "load5", "load15"),  # check_load
    *("rta", "pl", "rtmin", "rtmax", "jitter", "mos", "score"),  # check_ping, check_icmp
    *("time", "size"),  # check_http, check_tcp, check_dns, check_smtp, …
    *("users", "procs", "swap"),  # check_users, check_procs, check_swap
    *("offset", "stratum", "truechimers"),  # check_ntp_time, check_ntp_peer
    *("available_upgrades", "critical_updates"),  # check_apt
    *("unsent", "uptime", "connections", "entries"),  # check_mailq, check_uptime, …
    *("value", "used", "free", "total", "usage", "percent", "count", "errors", "warnings"),
    *("age", "latency", "temperature", "voltage", "battery", "load", "memory", "cpu"),
    *("disk", "inodes", "files", "queue", "rx", "tx"),
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an environment variable name")
    return name


def _perfdata_word(word: str) -> str:
    if word not in PERFDATA_WORDS:
        raise ValueError(
            f"{word!r} is not a word the metric label may take; use one of: "
            + ", ".join(PERFDATA_WORDS)
        )
    return word


def _directory(path: Path) -> Path:
    if not path.is_dir():
        raise ValueError(f"not a directory: {path}")
    return path


NoNul = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


class CommandOptions(CheckOptions):
    command: Annotated[tuple[NoNul, ...], Field(min_length=1)] | NoNul
    shell: bool = False
    env: dict[Annotated[str, AfterValidator(_env_name)], Secret] = Field(default_factory=dict)
    cwd: Annotated[ConfigPath, AfterValidator(_directory)] | None = None
    perfdata_metrics: dict[
        Annotated[str, Field(min_length=1)], Annotated[str, AfterValidator(_perfdata_word)]
    ] = Field(default_factory=dict)

    @field_validator("command")
    @classmethod
    def _program_named(cls, value: tuple[str, ...] | str) -> tuple[str, ...] | str:
        first = value if isinstance(value, str) else value[0]
        if not first.strip():
            raise ValueError("the program to run must not be empty")
        return value

    @model_validator(mode="after")
    def _shell_or_argv(self) -> CommandOptions:
        if self.shell and not isinstance(self.command, str):
            raise ValueError("with shell = true, command is one string for /bin/sh -c")
        if not self.shell and isinstance(self.command, str):
            raise ValueError(
                "command is a string: give the program and its arguments as a list, e.g. "
                '["check_disk", "-w", "20%"], or set shell = true to run it with /bin/sh -c'
            )
        return self

    @property
    def argv(self) -> tuple[str, ...]:
        if isinstance(self.command, str):
            return (SHELL, "-c", self.command)
        return self.command


def _perfdata_values(perfdata: Any, when: MetricTime) -> dict[str, float] | None:
    if not isinstance(perfdata, list):
        return None
    values: dict[str, float] = {}
    for item in perfdata:
        if isinstance(item, Mapping) and isinstance(item.get("metric"), str):
            value = item.get("base_value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(item["metric"], value)
    return values


class CommandCheck(CheckType):
    name = "command"
    Options = CommandOptions
    description = "Run a local program (Nagios/monitoring-plugins exit codes and perfdata)"
    metrics = (
        CheckMetric(
            "uplight_command_exit_code",
            "Exit status of the last command run (absent when it was killed or did not start).",
            key="exit_code",
        ),
        CheckMetric(
            "uplight_command_perfdata",
            "Performance data of the last command run, in seconds and bytes for times and sizes.",
            key="perfdata",
            read=_perfdata_values,
            labels={"label": PERFDATA_WORDS},
        ),
    )

    async def check(self, options: CommandOptions, context: CheckContext) -> CheckResult:
        try:
            return await _check(options, context.timeout)
        except Exception as exc:  # a bug here must cost one check, not a traceback
            return CheckResult.down(f"command check failed: {type(exc).__name__}: {exc}")

    def public_summary(self, options: CommandOptions) -> dict[str, Any]:
        # Arguments may carry credentials (check_mysql -p …): the program's name only.
        return {"program": "sh -c" if options.shell else Path(options.command[0]).name}


class _Output:
    """One stream: all of it is read, the first OUTPUT_LIMIT bytes are kept."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = OUTPUT_LIMIT - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.truncated = self.truncated or len(chunk) > room

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class _Run(asyncio.SubprocessProtocol):
    """Collects output as it arrives and notes the exit and the close of the pipes.

    A protocol rather than ``asyncio.subprocess.Process``: on Python 3.11 its
    ``wait()`` also waits for the pipes, which a child left running holds open.
    """

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.outputs = {1: _Output(), 2: _Output()}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.outputs[fd].add(data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _check(options: CommandOptions, timeout: float) -> CheckResult:
    argv, env = options.argv, _environment(options)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        transport, run = await loop.subprocess_exec(
            _Run,
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=options.cwd,
            start_new_session=True,  # its own process group, to kill whatever it starts
        )
    except OSError as exc:
        return CheckResult.down(_spawn_failure(exc, argv, options.cwd, env))
    pgid = transport.get_pid()
    finished = True  # by the deadline
    try:
        # Shielded: a timeout must not cancel the futures, they are read again below.
        async with asyncio.timeout(timeout):
            await asyncio.shield(run.exited)
            # Children left running would hold the pipes open and pile up, a set per check.
            _kill_group(pgid)
            await asyncio.shield(run.closed)
    except TimeoutError:
        finished = run.exited.done()
        _kill_group(pgid)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):  # after SIGKILL the exit comes at once
                await asyncio.shield(run.exited)
    finally:
        if transport.get_returncode() is None:  # cancelled by the scheduler
            _kill_group(pgid)
        transport.close()
    latency = round(time.perf_counter() - started, 6)
    outcome = _Outcome(
        code=transport.get_returncode(),
        stdout=run.outputs[1],
        stderr=run.outputs[2],
        timed_out=not finished or transport.get_returncode() is None,
        # The command finished, but a process that left its group (setsid) kept the
        # output open until the timeout.
        held_open=finished and not run.closed.done(),
    )
    return _judge(options, outcome, latency, timeout)


@dataclass(frozen=True, slots=True)
class _Outcome:
    code: int | None
    stdout: _Output
    stderr: _Output
    timed_out: bool
    held_open: bool


def _environment(options: CommandOptions) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update({name: value.get_secret_value() for name, value in options.env.items()})
    return env


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _spawn_failure(
    exc: OSError, argv: tuple[str, ...], cwd: Path | None, env: Mapping[str, str]
) -> str:
    program = argv[0]
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    if cwd is not None and exc.filename is not None and str(exc.filename) == str(cwd):
        return f"cannot run {program} in cwd {cwd}: {reason}"
    if exc.errno == errno.ENOENT:
        if "/" in program:
            return f"{program}: no such file"
        return f"command not found: {program} (searched PATH={env.get('PATH', '')})"
    if exc.errno == errno.EACCES:
        return f"{program}: permission denied (is it executable, on a filesystem mounted without noexec?)"
    if exc.errno == errno.ENOEXEC:
        return f"{program}: exec format error (does the script start with a #! line?)"
    return f"cannot run {program}: {reason}"


def _judge(
    options: CommandOptions, outcome: _Outcome, latency: float, timeout: float
) -> CheckResult:
    code, stdout, stderr = outcome.code, outcome.stdout, outcome.stderr
    secrets = [v.get_secret_value() for v in options.env.values()]
    out_text = _scrub(stdout.text(), secrets)
    err_text = _scrub(stderr.text(), secrets)
    parsed = parse_output(out_text if out_text.strip() else err_text)
    line = printable(parsed.text, 200)
    details = _details(options, parsed, code, stdout, stderr, err_text)
    if outcome.held_open:
        details["output_held_open"] = True
    program = "the shell" if options.shell else Path(options.argv[0]).name
    if outcome.timed_out:
        message = f"timed out after {timeout:g}s: killed {program} and its process group"
        return CheckResult.down(message + (f"; output so far: {line}" if line else ""), **details)
    assert code is not None
    if code < 0:
        name = _signal_name(-code)
        message = f"{program} was killed by {name}" + (f": {line}" if line else "")
        return CheckResult.down(message, latency, **details)
    state = NAGIOS_STATES.get(code)
    if not line:
        line = f"{state} (exit {code}) with no output" if state else ""
    if state is None:
        message = f"exit status {code}" + (f": {line}" if line else "")
        return CheckResult.down(message, latency, **details)
    if code == 0:
        return CheckResult.up(line, latency, **details)
    if code == 1:
        return CheckResult.degraded(line, latency, **details)
    return CheckResult.down(line, latency, **details)


def _details(
    options: CommandOptions,
    parsed: PluginOutput,
    code: int | None,
    stdout: _Output,
    stderr: _Output,
    err_text: str,
) -> dict[str, Any]:
    details: dict[str, Any] = {"exit_code": code if code is not None and code >= 0 else None}
    if code is not None and code < 0:
        details["signal"] = _signal_name(-code)
    if parsed.long_text:
        details["long_output"] = _lines(parsed.long_text, _LONG_OUTPUT_LIMIT)
    if parsed.perfdata:
        details["perfdata"] = [_perf_details(options, item) for item in parsed.perfdata]
    if parsed.skipped:
        details["perfdata_skipped"] = parsed.skipped
    if err_text.strip() and stdout.data.strip():  # else stderr already gave the message
        details["stderr"] = _lines(err_text.strip(), _STDERR_LIMIT)
    if stdout.truncated or stderr.truncated:
        details["output_truncated"] = True
    return details


def _perf_details(options: CommandOptions, item: Any) -> dict[str, Any]:
    shown = item.as_details()
    metric = options.perfdata_metrics.get(item.label)
    if metric is None and item.label in PERFDATA_WORDS:
        metric = item.label
    if metric is not None and item.value is not None:
        shown["metric"] = metric
        shown["base_value"] = item.base_value()
    return shown


def _lines(text: str, limit: int) -> str:
    """Each line made printable, the whole cut to ``limit`` characters."""
    joined = "\n".join(printable(line, limit) for line in text[: limit + 1].split("\n"))
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _scrub(text: str, secrets: list[str]) -> str:
    # The command's output is not ours: a secret passed in `env` may be echoed back.
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(CommandCheck)
