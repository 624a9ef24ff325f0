"""Config loading: every error names its TOML path, all errors at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from uplight.config import ConfigError, load_config, parse_config
from uplight.plugins import PluginRegistry

REPO = Path(__file__).parents[3]

GOOD_MONITOR = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:1/"
"""


def errors_of(text: str, registry: PluginRegistry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, registry.check_types)
    return [str(issue) for issue in info.value.issues]


def test_example_config_is_valid(registry: PluginRegistry) -> None:
    config = load_config(REPO / "config.example.toml", registry.check_types)
    assert config.monitors and config.pages
    assert config.default_page is not None and config.default_page.slug == "main"
    # A relative storage path is relative to the config file, so `make run` writes ./data/.
    assert config.database_path == REPO / "data" / "uplight.db"


def test_values_are_parsed(make_config) -> None:
    config = make_config(
        GOOD_MONITOR
        + """interval = "1m30s"
timeout = "750ms"
failure_threshold = 3
expect_status = [200, "3xx"]
[server]
listen = "[::1]:9090"
public_base_url = "https://status.example.org/"
"""
    )
    monitor = config.monitors[0]
    assert (monitor.interval, monitor.timeout, monitor.failure_threshold) == (90.0, 0.75, 3)
    assert monitor.options.url == "http://127.0.0.1:1/"
    assert (config.server.host, config.server.port) == ("::1", 9090)
    assert config.server.public_base_url == "https://status.example.org"


# Each case: a config and the (path, fragment) pairs its errors must contain.
BAD_CONFIGS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "not toml": ("[[monitors]\nid=", [("", "not valid TOML")]),
    "unknown section with hint": ("[sever]\nlisten='x:1'\n", [("sever", "did you mean 'server'")]),
    "unknown key with hint": (
        "[server]\nlistn = '127.0.0.1:80'\n",
        [("server.listn", "did you mean 'listen'")],
    ),
    "bad listen": ("[server]\nlisten = 'localhost'\n", [("server.listen", "host:port")]),
    "bad base url": (
        "[server]\npublic_base_url = 'status.example.org'\n",
        [("server.public_base_url", "http")],
    ),
    "retention below 1": ("[storage]\nretention_days = 0\n", [("storage.retention_days", "1")]),
    "bad monitor id": (
        GOOD_MONITOR.replace('"web"', '"Web_1"'),
        [("monitors[0].id", "not a valid id")],
    ),
    "missing name": (GOOD_MONITOR.replace('name = "Web"\n', ""), [("monitors[0].name", "missing")]),
    "bad duration": (GOOD_MONITOR + 'interval = "30"\n', [("monitors[0].interval", "duration")]),
    "timeout above interval": (
        GOOD_MONITOR + 'interval = "10s"\ntimeout = "20s"\n',
        [("monitors[0].timeout", "must not be longer than interval (10s)")],
    ),
    "unknown check type": (
        GOOD_MONITOR.replace('"http"', '"htp"'),
        [("monitors[0].type", "unknown check type 'htp' (did you mean 'http'?)")],
    ),
    "typo in type-specific key": (
        GOOD_MONITOR + 'expect_stauts = ["2xx"]\n',
        [("monitors[0].expect_stauts", "did you mean 'expect_status'")],
    ),
    "plugin schema error": (
        GOOD_MONITOR.replace("http://127.0.0.1:1/", "ftp://example.org/"),
        [("monitors[0].url", "http")],
    ),
    "missing plugin key": (
        GOOD_MONITOR.replace('url = "http://127.0.0.1:1/"\n', ""),
        [("monitors[0].url", "missing")],
    ),
    "duplicate ids": (
        GOOD_MONITOR + GOOD_MONITOR,
        [("monitors[1].id", "duplicate id 'web' (first used by monitors[0])")],
    ),
    "dangling component": (
        GOOD_MONITOR + "[[pages]]\nslug='main'\ntitle='T'\n[[pages.components]]\nmonitor='wbe'\n",
        [("pages[0].components[0].monitor", "no monitor has id 'wbe' (did you mean 'web'?)")],
    ),
    "threshold zero": (
        GOOD_MONITOR + "failure_threshold = 0\n",
        [("monitors[0].failure_threshold", "greater than or equal to 1")],
    ),
    "wrong type": (
        "[scheduler]\nmax_concurrency = 'many'\n",
        [("scheduler.max_concurrency", "must be a whole number")],
    ),
    "two default pages": (
        "[[pages]]\nslug='a'\ntitle='A'\ndefault=true\n[[pages]]\nslug='b'\ntitle='B'\ndefault=true\n",
        [("pages[1].default", "already the default")],
    ),
    "secret env missing": (
        GOOD_MONITOR + 'headers = { Authorization = { env = "UPLIGHT_TEST_UNSET_VAR" } }\n',
        [("monitors[0].headers.Authorization", "UPLIGHT_TEST_UNSET_VAR is not set")],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_names_its_path(case: str, registry: PluginRegistry) -> None:
    text, expected = BAD_CONFIGS[case]
    found = errors_of(text, registry)
    for path, fragment in expected:
        prefix = f"{path}: " if path else ""
        assert any(e.startswith(prefix) and fragment in e for e in found), (path, fragment, found)


def test_all_errors_are_reported_at_once(registry: PluginRegistry) -> None:
    text = (
        "[server]\nlisten = 'nope'\n[storage]\nretention_days = -1\n"
        + GOOD_MONITOR.replace('"web"', '"BAD"')
        + GOOD_MONITOR.replace("http://127.0.0.1:1/", "gopher://x")
        + "[[pages]]\nslug='p'\ntitle='P'\n[[pages.components]]\nmonitor='ghost'\n"
    )
    paths = {e.split(": ", 1)[0] for e in errors_of(text, registry)}
    assert {
        "server.listen",
        "storage.retention_days",
        "monitors[0].id",
        "monitors[1].url",
        "pages[0].components[0].monitor",
    } <= paths


def test_secrets_from_env_and_file(make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("UPLIGHT_TEST_TOKEN", "from-env")
    (tmp_path / "pw").write_text("from-file\n")
    config = make_config(
        GOOD_MONITOR
        + 'headers = { "X-Token" = { env = "UPLIGHT_TEST_TOKEN" } }\n'
        + f'basic_auth = {{ username = "u", password = {{ file = "{tmp_path / "pw"}" }} }}\n'
    )
    options = config.monitors[0].options
    assert options.headers["X-Token"].get_secret_value() == "from-env"
    assert "from-env" not in repr(options) and "from-file" not in repr(options)


def test_unreadable_file_is_a_config_error(registry: PluginRegistry, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml", registry.check_types)


def test_relative_ca_file_is_relative_to_the_config_file(
    tmp_path: Path, registry, monkeypatch
) -> None:
    import trustme

    ca = trustme.CA()
    (tmp_path / "certs").mkdir()
    ca.cert_pem.write_to_path(str(tmp_path / "certs" / "ca.pem"))
    (tmp_path / "config.toml").write_text(
        GOOD_MONITOR.replace("http://", "https://") + 'ca_file = "certs/ca.pem"\n'
    )
    monkeypatch.chdir("/")  # the working directory must not matter
    config = load_config(tmp_path / "config.toml", registry.check_types)
    assert config.monitors[0].options.ca_file == tmp_path / "certs" / "ca.pem"


def test_metrics_token_file_is_checked(make_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        make_config('[metrics]\nbearer_token_file = "missing-token"\n')
    assert str(info.value.issues[0]).startswith("metrics.bearer_token_file: cannot read")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match=r"metrics.bearer_token_file: .* is empty"):
        make_config('[metrics]\nbearer_token_file = "empty"\n')


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ("failure_threshold = true\n", "monitors[0].failure_threshold", "a whole number"),
        ('failure_threshold = "3"\n', "monitors[0].failure_threshold", "without quotes"),
        ('follow_redirects = "yes"\n', "monitors[0].follow_redirects", "true or false"),
        ("max_body_bytes = 1.5\n", "monitors[0].max_body_bytes", "a whole number"),
    ],
)
def test_toml_types_are_not_coerced(extra: str, path: str, fragment: str, registry) -> None:
    found = errors_of(GOOD_MONITOR + extra, registry)
    assert any(e.startswith(f"{path}: ") and fragment in e for e in found), found


def test_core_sections_are_not_coerced(registry) -> None:
    found = errors_of('[metrics]\nenabled = "yes"\n[storage]\nretention_days = "30"\n', registry)
    assert any(e.startswith("metrics.enabled: must be true or false") for e in found), found
    assert any(e.startswith("storage.retention_days: must be a whole number") for e in found)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ('listen = "127.0.0.1:9090"', "http://127.0.0.1:9090"),
        ('listen = "0.0.0.0:8081"', "http://127.0.0.1:8081"),
        ('listen = "[::1]:8082"', "http://[::1]:8082"),
        (
            'listen = "127.0.0.1:9090"\npublic_base_url = "https://status.example.org/"',
            "https://status.example.org",
        ),
    ],
)
def test_public_base_url_defaults_to_the_listen_address(
    make_config, server: str, expected: str
) -> None:
    assert make_config(f"[server]\n{server}\n").server.public_base_url == expected


def test_a_reader_that_left_is_not_an_error() -> None:
    """`uplight plugins --json | head`: stdout's reader is gone before we write."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from uplight.cli import main\n"
        "sys.exit(main(['plugins']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


def test_one_bad_page_does_not_hide_the_others_errors(registry) -> None:
    text = (
        GOOD_MONITOR
        + "[[pages]]\nslug = 'a'\ntitle = ''\n"
        + "[[pages]]\nslug = 'b'\ntitle = 'B'\n[[pages.components]]\nmonitor = 'hompage'\n"
    )
    found = errors_of(text, registry)
    assert "pages[0].title: must not be empty" in found
    assert "pages[1].components[0].monitor: no monitor has id 'hompage'" in found


def test_wrong_shapes_are_named_in_toml_words(registry) -> None:
    text = "server = 3\n[[pages]]\nslug = 'a'\ntitle = 'A'\ncomponents = 'x'\n"
    found = errors_of(text, registry)
    assert "server: must be a table" in found
    assert "pages[0].components: must be an array" in found


def test_a_key_is_never_suggested_as_its_own_correction(registry) -> None:
    (error,) = errors_of('[server]\nurl = "x"\n', registry)
    assert error == "server.url: unknown key 'url'"


def test_monitors_that_set_the_same_keys_share_their_fields_set(registry: PluginRegistry) -> None:
    """One ``model_fields_set`` per distinct set of keys (memory at 10,000 monitors); what
    each says is unchanged, and a copy with more keys does not change the others'."""
    text = (
        "".join(
            f'[[monitors]]\nid = "m{i}"\nname = "M {i}"\ntype = "http"\nurl = "http://x/{i}"\n'
            for i in range(3)
        )
        + '[[monitors]]\nid = "t"\nname = "T"\ntype = "http"\nurl = "http://x/"\ntimeout = "2s"\n'
    )
    a, b, _, t = parse_config(text, registry.check_types).monitors
    assert a.model_fields_set == {"id", "name", "type", "options"}
    assert a.model_fields_set is b.model_fields_set
    assert a.options.model_fields_set is b.options.model_fields_set == {"url"}
    assert t.model_fields_set == {"id", "name", "type", "timeout", "options"}
    copied = a.model_copy(update={"interval": 30.0})
    assert "interval" in copied.model_fields_set and "interval" not in b.model_fields_set
    assert a.type is t.type
    # The same duration is one float object, whichever monitor's.
    again = parse_config(
        text.replace('timeout = "2s"', 'interval = "2s"\ntimeout = "1s"'), registry.check_types
    )
    assert again.monitors[3].interval is t.timeout == 2.0
