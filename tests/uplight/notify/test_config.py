"""``[[notifiers]]``, ``notify`` and ``[defaults]``: values, and errors with their TOML paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from uplight.config import ConfigError, parse_config
from uplight.plugins import PluginRegistry

REPO = Path(__file__).parents[3]

MONITORS = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:1/"
[[monitors]]
id = "db"
name = "DB"
type = "http"
url = "http://127.0.0.1:1/"
notify = ["ops-mail"]
[[monitors]]
id = "nas"
name = "NAS"
type = "http"
url = "http://127.0.0.1:1/"
notify = []
"""

CHANNELS = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "webhook"
url = "http://127.0.0.1:1/hook"
remind_every = "2h"
min_gap = "1m"
events = ["incident_opened", "incident_ended"]
send_updates = true
[[notifiers]]
id = "ops-mail"
type = "fake"
enabled = false
notify_during_maintenance = true
retry_for = "1h"
retry_backoff = "2s"
"""


def errors_of(parse, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return [str(issue) for issue in info.value.issues]


def test_notifiers_and_routing_keys_are_parsed(parse) -> None:
    config = parse(MONITORS + CHANNELS)
    phone, mail = config.notifiers
    assert (phone.id, phone.type, phone.enabled) == ("phone", "webhook", True)
    assert phone.options.url.get_secret_value() == "http://127.0.0.1:1/hook"
    assert (phone.remind_every, phone.min_gap, phone.retry_for) == (7200.0, 60.0, 86400.0)
    assert phone.event_kinds == {"incident_opened", "incident_ended", "incident_update"}
    assert (mail.enabled, mail.notify_during_maintenance) == (False, True)
    assert (mail.retry_for, mail.retry_backoff, mail.min_gap) == (3600.0, 2.0, 0.0)
    # Default kinds: everything but operator updates; reminders need remind_every.
    assert mail.event_kinds == {
        "incident_opened",
        "severity_changed",
        "incident_ended",
        "certificate_expiring",
    }
    assert not mail.sends("incident_opened")  # disabled
    # A monitor's own list replaces the defaults; an empty list means none.
    assert config.notify_ids("web") == ("phone",)
    assert config.notify_ids("db") == ("ops-mail",)
    assert config.notify_ids("nas") == ()


def test_without_notifiers_nothing_changes(parse) -> None:
    config = parse(MONITORS.replace('notify = ["ops-mail"]', "").replace("notify = []", ""))
    assert config.notifiers == () and config.defaults.notify == ()
    assert config.notify_ids("web") == ()


BAD: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "unknown type with hint": (
        '[[notifiers]]\nid = "a"\ntype = "webhok"\nurl = "http://x/"\n',
        [("notifiers[0].type", "unknown notifier type 'webhok' (did you mean 'webhook'?)")],
    ),
    "unknown notify id": (
        MONITORS.replace('notify = ["ops-mail"]', 'notify = ["phone"]'),
        [
            ("monitors[1].notify[0]", "no notifier has id 'phone'"),
            ("monitors[2].notify", ""),  # nothing: an empty list is fine
        ],
    ),
    "unknown defaults id": (
        '[defaults]\nnotify = ["pager"]\n[[notifiers]]\nid = "phone"\ntype = "fake"\n',
        [("defaults.notify[0]", "no notifier has id 'pager'")],
    ),
    "bad option via the plugin schema": (
        '[[notifiers]]\nid = "a"\ntype = "webhook"\nurl = "ftp://x/"\n',
        [("notifiers[0].url", "")],
    ),
    "missing plugin option": (
        '[[notifiers]]\nid = "a"\ntype = "webhook"\n',
        [("notifiers[0].url", "required key is missing")],
    ),
    "unknown key with hint": (
        '[[notifiers]]\nid = "a"\ntype = "fake"\nremind_evry = "1h"\n',
        [("notifiers[0].remind_evry", "did you mean 'remind_every'")],
    ),
    "duplicate id": (
        '[[notifiers]]\nid = "a"\ntype = "fake"\n[[notifiers]]\nid = "a"\ntype = "fake"\n',
        [("notifiers[1].id", "duplicate id 'a' (first used by notifiers[0])")],
    ),
    "bad id": (
        '[[notifiers]]\nid = "Phone!"\ntype = "fake"\n',
        [("notifiers[0].id", "is not a valid id")],
    ),
    "bad event": (
        '[[notifiers]]\nid = "a"\ntype = "fake"\nevents = ["incident_opend"]\n',
        [("notifiers[0].events[0]", "")],
    ),
    "reminders too often": (
        '[[notifiers]]\nid = "a"\ntype = "fake"\nremind_every = "10s"\n',
        [("notifiers[0].remind_every", "must be at least 1m")],
    ),
    "bad duration": (
        '[[notifiers]]\nid = "a"\ntype = "fake"\nmin_gap = "5"\n',
        [("notifiers[0].min_gap", "duration")],
    ),
    "unknown defaults key": ("[defaults]\nnotfy = []\n", [("defaults.notfy", "did you mean")]),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_config_errors_name_their_path(parse, case: str) -> None:
    text, expected = BAD[case]
    base = "" if "[[monitors]]" in text else MONITORS.replace('notify = ["ops-mail"]', "")
    found = errors_of(parse, base + text)
    for path, fragment in expected:
        if not fragment:
            if path.endswith("notify"):
                assert not any(e.startswith(path) for e in found), found
            else:
                assert any(e.startswith(f"{path}: ") for e in found), found
            continue
        assert any(e.startswith(f"{path}: ") and fragment in e for e in found), found


def test_secrets_come_from_env_and_files(parse, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "hook-url").write_text("http://127.0.0.1:1/from-file\n")
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    config = parse(
        '[[notifiers]]\nid = "a"\ntype = "webhook"\n'
        f'url = {{ file = "{tmp_path / "hook-url"}" }}\nsecret = {{ env = "HOOK_SECRET" }}\n'
    )
    options = config.notifiers[0].options
    assert options.url.get_secret_value() == "http://127.0.0.1:1/from-file"
    assert options.secret.get_secret_value() == "from-env"
    assert "from-env" not in repr(config) and "from-file" not in repr(config)


def test_without_notifier_types_every_channel_is_unknown(registry: PluginRegistry) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[[notifiers]]\nid = "a"\ntype = "webhook"\n', registry.check_types)
    assert "notifiers[0].type: unknown notifier type 'webhook'" in str(info.value)


def test_the_commented_channels_in_config_example_are_valid(parse, monkeypatch) -> None:
    """Every channel example in config.example.toml, uncommented, passes validation."""
    text = (REPO / "config.example.toml").read_text()
    head, _, rest = text.partition("# --- notification channels ---")
    block, _, _ = rest.partition("# --- end of notification channels ---")
    uncommented = "\n".join(
        line.removeprefix("# ") if line.startswith("# ") and not line.startswith("# #") else line
        for line in block.splitlines()
    )
    for name in re.findall(r'env = "([A-Z_]+)"', uncommented):
        value = "json://127.0.0.1:1/" if name == "APPRISE_URL" else "https://127.0.0.1:1/x"
        monkeypatch.setenv(name, value)
    config = parse(head + uncommented)
    types = {n.type for n in config.notifiers}
    assert {"webhook", "ntfy", "slack", "discord", "email", "apprise"} <= types
    assert config.defaults.notify
