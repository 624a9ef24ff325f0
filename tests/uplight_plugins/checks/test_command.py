"""The command check running real scripts, written here, as Nagios plugins."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from uplight import CheckContext, CheckResult, CheckStatus, MetricTime
from uplight.check_metrics import samples
from uplight.config import Config, ConfigError
from uplight_plugins.checks.command import (
    OUTPUT_LIMIT,
    CommandCheck,
    CommandOptions,
    uplight_check_types,
)

pytestmark = pytest.mark.timeout(15)

MakeConfig = Callable[[str], Config]


@pytest.fixture
def script(tmp_path: Path) -> Callable[..., str]:
    """Write ``body`` as an executable ``#!/bin/sh`` script; return its path."""

    def write(body: str, name: str = "check_test", *, mode: int = 0o755) -> str:
        path = tmp_path / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(mode)
        return str(path)

    return write


async def run(timeout: float = 5.0, **options: Any) -> CheckResult:
    validated = CommandOptions.model_validate(options)
    result = await CommandCheck().check(validated, CheckContext(monitor_id="m", timeout=timeout))
    json.dumps(result.details)  # the store needs JSON
    return result


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its new parent


def gone(pid: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def metric_samples(result: CheckResult, name: str) -> dict[str, float]:
    metric = next(m for m in CommandCheck.metrics if m.name == name)
    raw = result.details.get(metric.key)
    value = metric.read(raw, MetricTime(0.0, 0.0)) if metric.read else raw
    return {labels[0] if labels else "": number for labels, number in samples(metric, value)}


def test_registers_the_command_check_type() -> None:
    registered: list[type] = []
    uplight_check_types(registered.append)
    assert registered == [CommandCheck]


async def test_exit_0_is_up_with_the_first_line_and_performance_data(script) -> None:
    path = script(
        "echo 'DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968'\n"
        "echo 'long output line'\n"
        "echo \"second line | 'inode use'=12%;80;90 load1=0.25\"\n"
        "exit 0\n"
    )
    result = await run(command=[path], perfdata_metrics={"/": "used"})
    assert result.status is CheckStatus.UP
    assert result.message == "DISK OK - free space: / 3326 MB (56%)"
    assert result.latency is not None and result.latency > 0
    details = result.details
    assert details["exit_code"] == 0
    assert details["long_output"] == "long output line\nsecond line"
    assert details["perfdata"][0] == {
        "label": "/",
        "value": 2643.0,
        "unit": "MB",
        "warn": "5948",
        "crit": "5958",
        "min": 0.0,
        "max": 5968.0,
        "metric": "used",
        "base_value": 2643.0 * 1024 * 1024,
    }
    assert details["perfdata"][1]["label"] == "inode use"
    assert "metric" not in details["perfdata"][1]  # not a declared word, not mapped
    assert metric_samples(result, "uplight_command_perfdata") == {
        "used": 2643.0 * 1024 * 1024,
        "load1": 0.25,
    }
    assert metric_samples(result, "uplight_command_exit_code") == {"": 0.0}


@pytest.mark.parametrize(
    ("code", "status"),
    [(1, CheckStatus.DEGRADED), (2, CheckStatus.DOWN), (3, CheckStatus.DOWN)],
)
async def test_nagios_exit_codes(script, code: int, status: CheckStatus) -> None:
    words = {1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
    path = script(f"echo 'LOAD {words[code]} - load average: 9.1|load1=9.1;4;8;0'\nexit {code}\n")
    result = await run(command=[path])
    assert result.status is status
    assert result.message == f"LOAD {words[code]} - load average: 9.1"
    assert result.details["exit_code"] == code
    assert metric_samples(result, "uplight_command_perfdata") == {"load1": 9.1}


async def test_any_other_exit_code_is_down_and_says_it(script) -> None:
    result = await run(command=[script("echo 'something odd'\nexit 42\n")])
    assert result.status is CheckStatus.DOWN
    assert result.message == "exit status 42: something odd"


async def test_arguments_are_passed_without_a_shell(script, tmp_path: Path) -> None:
    seen = tmp_path / "argv"
    path = script(f'printf "%s\\n" "$@" > {seen}\necho "OK $1"\n')
    argv = ["-w", "20% ; $(touch /tmp/oops) `id`", "it's"]
    result = await run(command=[path, *argv])
    assert result.message == "OK -w"
    assert seen.read_text().splitlines() == argv


async def test_no_output_says_so(script) -> None:
    result = await run(command=[script("exit 0\n")])
    assert result.status is CheckStatus.UP
    assert result.message == "OK (exit 0) with no output"


async def test_stderr_is_the_message_when_stdout_is_empty(script) -> None:
    result = await run(command=[script("echo 'cannot read /etc/thing' >&2\nexit 3\n")])
    assert result.status is CheckStatus.DOWN
    assert result.message == "cannot read /etc/thing"


async def test_killed_by_a_signal_is_down(script) -> None:
    result = await run(command=[script("echo 'about to go'\nkill -SEGV $$\n")])
    assert result.status is CheckStatus.DOWN
    assert result.message == "check_test was killed by SIGSEGV: about to go"
    assert result.details["exit_code"] is None and result.details["signal"] == "SIGSEGV"


async def test_timeout_kills_the_whole_process_group(script, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    path = script(f"sleep 60 &\necho $! > {pids}\necho $$ >> {pids}\necho 'checking…'\nsleep 60\n")
    started = time.monotonic()
    result = await run(timeout=0.5, command=[path])
    assert time.monotonic() - started < 2
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        "timed out after 0.5s: killed check_test and its process group; output so far: checking…"
    )
    child, parent = (int(line) for line in pids.read_text().split())
    assert gone(parent) and gone(child)


async def test_a_background_child_left_behind_is_killed_when_the_command_exits(
    script, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    # The child keeps stdout open: without the kill the read would wait for it.
    path = script(f"sleep 60 &\necho $! > {pid_file}\necho 'OK - started'\nexit 0\n")
    started = time.monotonic()
    result = await run(timeout=5, command=[path])
    assert time.monotonic() - started < 2
    assert result.status is CheckStatus.UP
    assert result.message == "OK - started"
    assert gone(int(pid_file.read_text()))


async def test_huge_output_is_read_to_the_end_but_kept_bounded(script) -> None:
    path = script(
        "head -c 3000000 /dev/zero | tr '\\0' 'x'\necho\n"
        "i=0; while [ $i -lt 2000 ]; do echo 'noise noise noise' >&2; i=$((i+1)); done\n"
        "exit 1\n"
    )
    result = await run(command=[path])
    assert result.status is CheckStatus.DEGRADED  # the exit code still counts: no deadlock
    assert result.message == "x" * 200 + "…"
    assert result.details["output_truncated"] is True
    assert len(result.details["stderr"]) <= 500
    assert len(json.dumps(result.details)) < OUTPUT_LIMIT


async def test_missing_executable_by_path(tmp_path: Path) -> None:
    missing = tmp_path / "check_nothing"
    result = await run(command=[str(missing)])
    assert result.status is CheckStatus.DOWN
    assert result.message == f"{missing}: no such file"
    assert result.latency is None


async def test_missing_executable_on_path() -> None:
    result = await run(command=["check_uplight_does_not_exist"])
    assert result.status is CheckStatus.DOWN
    assert result.message.startswith(
        "command not found: check_uplight_does_not_exist (searched PATH="
    )


async def test_file_that_is_not_executable(script) -> None:
    path = script("echo OK\n", mode=0o644)
    result = await run(command=[path])
    assert result.status is CheckStatus.DOWN
    assert result.message == (
        f"{path}: permission denied (is it executable, on a filesystem mounted without noexec?)"
    )


async def test_script_without_a_shebang(tmp_path: Path) -> None:
    path = tmp_path / "check_bare"
    path.write_text("echo OK\n")
    path.chmod(0o755)
    result = await run(command=[str(path)])
    assert result.status is CheckStatus.DOWN
    assert result.message == f"{path}: exec format error (does the script start with a #! line?)"


async def test_shell_runs_a_string_through_sh() -> None:
    result = await run(command="printf 'OK | a=1\\n' | tr a b; exit 0", shell=True)
    assert result.status is CheckStatus.UP
    assert result.message == "OK"
    assert result.details["perfdata"][0]["label"] == "b"


async def test_environment_is_small_and_env_is_passed_scrubbed(
    script, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("UPLIGHT_OTHER_SECRET", "hunter2")
    secret = tmp_path / "token"
    secret.write_text("s3cret-value\n")
    path = script('echo "OK token=$TOKEN other=${UPLIGHT_OTHER_SECRET:-unset} mode=$MODE"\n')
    result = await run(command=[path], env={"TOKEN": {"file": str(secret)}, "MODE": "fast"})
    assert result.message == "OK token=*** other=unset mode=***"  # every env value is scrubbed


async def test_cwd(script, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = await run(command=[script('echo "OK in $(pwd)"\n')], cwd=str(work))
    assert result.message == f"OK in {work}"
    options = CommandOptions.model_validate({"command": [script("echo OK\n")], "cwd": str(work)})
    shutil.rmtree(work)  # gone after the config was loaded
    result = await CommandCheck().check(options, CheckContext(monitor_id="m", timeout=5))
    assert result.status is CheckStatus.DOWN
    assert (
        result.message == f"cannot run {options.argv[0]} in cwd {work}: no such file or directory"
    )


async def test_a_process_that_leaves_the_group_cannot_hold_the_check(
    script, tmp_path: Path
) -> None:
    if shutil.which("setsid") is None:
        pytest.skip("setsid(1) is not installed")
    pid_file = tmp_path / "pid"
    # The pid is written once the new session exists, so the script exits after the escape.
    path = script(
        f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 30' &\n"
        f"while [ ! -s {pid_file} ]; do sleep 0.01; done\n"
        "echo 'OK - forked'\nexit 0\n"
    )
    try:
        result = await run(timeout=0.5, command=[path])
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    # It escaped the process group, so only the timeout ended the wait for its output.
    assert result.status is CheckStatus.UP
    assert result.message == "OK - forked"
    assert result.details["output_held_open"] is True


def test_valid_config_loads(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(
        """
[[monitors]]
id = "root-disk"
name = "Root disk"
type = "command"
command = ["/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%", "-p", "/"]
env = { LC_ALL = "C" }
cwd = "."
perfdata_metrics = { "/" = "used" }
"""
    )
    options = config.monitors[0].options
    assert isinstance(options, CommandOptions)
    assert options.argv[0] == "/usr/lib/nagios/plugins/check_disk"
    assert options.cwd == tmp_path  # relative to the config file's folder


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ({"command": "check_disk -w 20%"}, "or set shell = true"),
        ({"command": ["true"], "shell": True}, "with shell = true, command is one string"),
        ({"command": []}, "at least 1 item"),
        ({"command": [""]}, "must not be empty"),
        ({"command": ["true"], "env": {"BAD-NAME": "x"}}, "not an environment variable name"),
        ({"command": ["true"], "perfdata_metrics": {"/": "root"}}, "'root' is not a word"),
        ({"command": ["true"], "cwd": "/nonexistent/dir"}, "not a directory"),
        ({"command": ["true"], "timeout_kill": True}, "timeout_kill"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: MakeConfig, keys: dict[str, Any], fragment: str
) -> None:
    lines = [f"{k} = {toml(v)}" for k, v in keys.items()]
    text = '[[monitors]]\nid = "c"\nname = "C"\ntype = "command"\n' + "\n".join(lines)
    with pytest.raises(ConfigError, match=fragment):
        make_config(text)


def toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def test_environment_inherits_only_a_few_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from uplight_plugins.checks.command import _environment

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    env = _environment(CommandOptions.model_validate({"command": ["x"], "env": {"A": "1"}}))
    assert env["PATH"] == "/usr/bin:/bin" and env["A"] == "1"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "nope"
