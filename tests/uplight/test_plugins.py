"""The plugin manager: entry-point discovery, attribution of faults, listing."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import uplight
from uplight import hookspecs
from uplight.plugins import PluginError, load_plugins

FAKE_PLUGINS = Path(__file__).parents[1] / "plugins"


def install_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Make ``site`` look like a site-packages holding an installed distribution."""
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[uplight]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(FAKE_PLUGINS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_come_through_the_entry_point_group(registry) -> None:
    assert "http" in registry.check_types
    assert "html" in registry.renderers
    http = registry.plugins["http"]
    assert http.builtin and http.distribution == "uplight"
    assert http.provides == {"check type": ["http"]}


def test_third_party_plugin_is_discovered(site: Path) -> None:
    install_distribution(site, "uplight-acme", {"acme": "uplight_acme"})
    registry = load_plugins()
    info = registry.plugins["acme"]
    assert (info.distribution, info.version, info.builtin) == ("uplight-acme", "1.2.3", False)
    assert info.provides == {"check type": ["acme"], "renderer": ["acme-text"]}
    assert registry.check_types["acme"].Options().answer == 42
    # builtins_only keeps third-party plugins out
    assert "acme" not in load_plugins(builtins_only=True).check_types


def test_import_error_names_the_plugin(site: Path) -> None:
    install_distribution(site, "uplight-broken", {"broken": "uplight_broken"})
    with pytest.raises(PluginError, match=r"plugin 'broken' .*uplight-broken.* failed to import"):
        load_plugins()


def test_two_plugins_claiming_one_check_type(site: Path) -> None:
    install_distribution(site, "uplight-dup", {"dup": "uplight_duplicate"})
    with pytest.raises(
        PluginError, match=r"check type 'http' is provided by two plugins: 'http' and 'dup'"
    ):
        load_plugins()


def test_registering_something_that_is_not_a_check_type() -> None:
    class Plugin:
        @uplight.hookimpl
        def uplight_check_types(self, register: Any) -> None:
            register(object)

    with pytest.raises(
        PluginError, match=r"plugin 'odd' registered .* not a subclass of uplight.CheckType"
    ):
        load_plugins(builtins_only=True, extra=[("odd", Plugin())])


def test_a_hook_that_raises_names_the_plugin() -> None:
    class Plugin:
        @uplight.hookimpl
        def uplight_renderers(self, register: Any) -> None:
            raise RuntimeError("boom")

    with pytest.raises(
        PluginError, match=r"plugin 'faulty' failed in uplight_renderers: RuntimeError: boom"
    ):
        load_plugins(builtins_only=True, extra=[("faulty", Plugin())])


def test_unknown_hook_is_an_error() -> None:
    class Plugin:
        @uplight.hookimpl
        def uplight_check_typos(self, register: Any) -> None: ...

    with pytest.raises(PluginError, match="unknown hook"):
        load_plugins(builtins_only=True, extra=[("typo", Plugin())])


def test_every_hook_is_documented_and_tested() -> None:
    hooks = [n for n in dir(hookspecs) if n.startswith("uplight_")]
    assert hooks
    docs = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    tests_text = "\n".join(p.read_text() for p in Path(__file__).parents[1].rglob("test_*.py"))
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"`{name}" in docs, f"{name} is not in docs/plugins.md"
        assert f"def test_hook_{name}" in tests_text, f"{name} has no test_hook_{name}"


def test_hook_uplight_check_types(site: Path) -> None:
    install_distribution(site, "uplight-acme", {"acme": "uplight_acme"})
    assert "acme" in load_plugins().check_types


def test_hook_uplight_renderers(site: Path) -> None:
    install_distribution(site, "uplight-acme", {"acme": "uplight_acme"})
    assert load_plugins().renderers["acme-text"].media_type.startswith("text/plain")


def test_hook_uplight_notifiers() -> None:
    class Beep(uplight.Notifier):
        name = "beep"

    class Plugin:
        @uplight.hookimpl
        def uplight_notifiers(self, register: Any) -> None:
            register(Beep)

    registry = load_plugins(builtins_only=True, extra=[("beeper", Plugin())])
    assert registry.notifiers["beep"] is Beep
    assert registry.plugins["beeper"].provides == {"notifier": ["beep"]}


def test_cli_lists_plugins(site: Path) -> None:
    install_distribution(site, "uplight-acme", {"acme": "uplight_acme"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(FAKE_PLUGINS)])}
    out = subprocess.run(
        [sys.executable, "-m", "uplight", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "http  (built-in)" in out and "check type: http" in out
    assert "acme  (uplight-acme 1.2.3)" in out and "renderer: acme-text" in out


def test_cli_reports_a_broken_plugin(site: Path) -> None:
    install_distribution(site, "uplight-broken", {"broken": "uplight_broken"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(FAKE_PLUGINS)])}
    proc = subprocess.run(
        [sys.executable, "-m", "uplight", "plugins"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "plugin 'broken'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_synchronous_check_is_refused() -> None:
    class Blocking(uplight.CheckType):
        name = "blocking"

        def check(self, options: Any, context: Any) -> Any:  # type: ignore[override]
            return None

    class Plugin:
        @uplight.hookimpl
        def uplight_check_types(self, register: Any) -> None:
            register(Blocking)

    with pytest.raises(PluginError, match=r"plugin 'sync' .* 'blocking' .* not an async function"):
        load_plugins(builtins_only=True, extra=[("sync", Plugin())])


# -- hooks are called through pluggy -------------------------------------------


def _check_type(type_name: str) -> type[uplight.CheckType]:
    async def check(self: Any, options: Any, context: Any) -> uplight.CheckResult:
        return uplight.CheckResult.up("fine", 0.0)

    return type(f"Check_{type_name}", (uplight.CheckType,), {"name": type_name, "check": check})


class Registering:
    """A fake plugin whose check-types hook registers one type and notes the call."""

    def __init__(self, type_name: str, calls: list[str], **marks: bool) -> None:
        self.cls = _check_type(type_name)
        self.calls = calls

        @uplight.hookimpl(**marks)
        def uplight_check_types(register: Any) -> None:
            calls.append(type_name)
            register(self.cls)

        self.uplight_check_types = uplight_check_types


def test_tryfirst_and_trylast_set_the_call_order() -> None:
    calls: list[str] = []
    plugins = [
        ("last", Registering("last", calls, trylast=True)),
        ("plain", Registering("plain", calls)),
        ("first", Registering("first", calls, tryfirst=True)),
    ]
    registry = load_plugins(builtins_only=True, extra=plugins)
    assert calls == ["first", "plain", "last"]
    assert list(registry.check_types)[:1] == ["first"]
    assert list(registry.check_types)[-1] == "last"
    # Each registration is still credited to the plugin that made it.
    for name in ("first", "plain", "last"):
        assert registry.plugins[name].provides == {"check type": [name]}

    calls.clear()
    load_plugins(
        builtins_only=True,
        extra=[
            ("late", Registering("late", calls, tryfirst=True)),
            ("early", Registering("early", calls)),
        ],
    )
    assert calls == ["late", "early"]


def test_a_hook_wrapper_sees_the_call() -> None:
    seen: list[tuple[str, Any]] = []

    class Wrapper:
        @uplight.hookimpl(wrapper=True)
        def uplight_check_types(self, register: Any) -> Any:
            seen.append(("before", register))
            register(_check_type("wrapped"))  # a wrapper may register too
            result = yield
            seen.append(("after", result))
            return result

    calls: list[str] = []
    registry = load_plugins(
        builtins_only=True,
        extra=[("wrapper", Wrapper()), ("inner", Registering("inner", calls))],
    )
    assert [step for step, _ in seen] == ["before", "after"]
    assert calls == ["inner"]
    assert registry.plugins["wrapper"].provides == {"check type": ["wrapped"]}
    assert registry.plugins["inner"].provides == {"check type": ["inner"]}
    assert "http" in registry.check_types  # the built-ins ran inside the wrapper too


def test_a_fault_under_a_wrapper_names_the_inner_plugin() -> None:
    class Wrapper:
        @uplight.hookimpl(wrapper=True)
        def uplight_renderers(self, register: Any) -> Any:
            return (yield)

    def helper() -> None:
        raise RuntimeError("deep")

    class Faulty:
        @uplight.hookimpl
        def uplight_renderers(self, register: Any) -> None:
            helper()

    with pytest.raises(PluginError, match=r"plugin 'faulty' failed in uplight_renderers"):
        load_plugins(builtins_only=True, extra=[("wrapper", Wrapper()), ("faulty", Faulty())])


def test_two_instances_of_one_plugin_class_are_told_apart() -> None:
    calls: list[str] = []

    class Plugin:
        def __init__(self, type_name: str) -> None:
            self.cls = _check_type(type_name)

        @uplight.hookimpl
        def uplight_check_types(self, register: Any) -> None:
            calls.append(self.cls.name)
            register(self.cls)

    registry = load_plugins(builtins_only=True, extra=[("a", Plugin("ay")), ("b", Plugin("bee"))])
    assert registry.plugins["a"].provides == {"check type": ["ay"]}
    assert registry.plugins["b"].provides == {"check type": ["bee"]}

    class Clash(Plugin):
        pass

    with pytest.raises(
        PluginError, match=r"check type 'same' is provided by two plugins: 'one' and 'two'"
    ):
        load_plugins(builtins_only=True, extra=[("one", Clash("same")), ("two", Clash("same"))])


def test_one_plugin_registering_a_name_twice() -> None:
    class Plugin:
        @uplight.hookimpl
        def uplight_notifiers(self, register: Any) -> None:
            beep = type("Beep", (uplight.Notifier,), {"name": "beep"})
            register(beep)
            register(beep)

    with pytest.raises(PluginError, match=r"plugin 'twice' registered notifier 'beep' twice"):
        load_plugins(builtins_only=True, extra=[("twice", Plugin())])


def test_register_kept_and_called_after_the_hook_is_refused() -> None:
    kept: list[Any] = []

    class Plugin:
        @uplight.hookimpl
        def uplight_notifiers(self, register: Any) -> None:
            kept.append(register)

    load_plugins(builtins_only=True, extra=[("keeper", Plugin())])
    with pytest.raises(PluginError, match="outside any uplight_notifiers implementation"):
        kept[0](type("Late", (uplight.Notifier,), {"name": "late"}))


def test_decorated_implementations_are_attributed() -> None:
    def logged(function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        return wrapper

    class Plugin:
        def __init__(self, type_name: str) -> None:
            self.cls = _check_type(type_name)

        @uplight.hookimpl
        @logged
        def uplight_check_types(self, register: Any) -> None:
            register(self.cls)

    registry = load_plugins(builtins_only=True, extra=[("a", Plugin("ay")), ("b", Plugin("bee"))])
    assert registry.plugins["a"].provides == {"check type": ["ay"]}
    assert registry.plugins["b"].provides == {"check type": ["bee"]}
