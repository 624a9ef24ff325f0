"""Limits on what a config may say, and the wording of their errors (issue 10, points 7, 8)."""

from __future__ import annotations

import pytest

from uplight.config import ConfigError, parse_config
from uplight.durations import parse_duration
from uplight.plugins import PluginRegistry

MONITOR = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:1/"
"""

PAGE = "[[pages]]\nslug = 'main'\ntitle = 'Main'\n[[pages.components]]\nmonitor = 'web'\n"

HOOK = "[[notifiers]]\nid = 'hook'\ntype = 'webhook'\nurl = 'http://127.0.0.1:1/'\n"


def errors_of(text: str, registry: PluginRegistry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, registry.check_types, notifier_types=registry.notifiers)
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The overflowing interval of the issue: one check, then never again.
        (
            MONITOR + 'interval = "99999999999999999999d"\n',
            "monitors[0].interval: must be at most 7d",
        ),
        (MONITOR + 'interval = "8d"\n', "monitors[0].interval: must be at most 7d"),
        (MONITOR + 'interval = "0s"\n', "monitors[0].interval: must be at least 1s"),
        (MONITOR + 'timeout = "0s"\n', "monitors[0].timeout: must be more than 0s"),
        ('[scheduler]\nmax_jitter = "2h"\n', "scheduler.max_jitter: must be at most 1h"),
        ('[public]\nrefresh_interval = "0s"\n', "public.refresh_interval: must be at least 1s"),
        ('[public]\nrefresh_interval = "2d"\n', "public.refresh_interval: must be at most 1d"),
        ('[public]\ncache_ttl = "2d"\n', "public.cache_ttl: must be at most 1d"),
        # Notifier durations speak units too, and share the global bound.
        (HOOK + 'retry_backoff = "0s"\n', "notifiers[0].retry_backoff: must be more than 0s"),
        (HOOK + 'retry_backoff = "2h"\n', "notifiers[0].retry_backoff: must be at most 1h"),
        (HOOK + 'retry_for = "400d"\n', "notifiers[0].retry_for: must be at most 365d"),
        (HOOK + 'timeout = "99999999999999999999d"\n', "notifiers[0].timeout: must be at most"),
    ],
)
def test_durations_are_bounded_and_errors_carry_units(
    text: str, expected: str, registry: PluginRegistry
) -> None:
    found = errors_of(text, registry)
    assert any(e.startswith(expected) for e in found), found
    assert not any("greater than" in e or "less than" in e for e in found), found


def test_every_duration_has_an_upper_bound() -> None:
    assert parse_duration("365d") == 365 * 86400
    for text in ("366d", "99999999999999999999d", "9" * 400 + "s"):
        with pytest.raises(ValueError, match="at most 365d"):
            parse_duration(text)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (MONITOR.replace('"Web"', f'"{"n" * 201}"'), "monitors[0].name"),
        (MONITOR + PAGE.replace("'Main'", f"'{'t' * 201}'"), "pages[0].title"),
        (MONITOR + PAGE + f"public_name = '{'n' * 201}'\n", "pages[0].components[0].public_name"),
        (MONITOR + PAGE + f"public_group = '{'g' * 201}'\n", "pages[0].components[0].public_group"),
    ],
)
def test_names_and_titles_are_at_most_200_characters(
    text: str, path: str, registry: PluginRegistry
) -> None:
    assert f"{path}: must be at most 200 characters" in errors_of(text, registry)
    assert parse_config(
        text.replace("n" * 201, "n" * 200)
        .replace("t" * 201, "t" * 200)
        .replace("g" * 201, "g" * 200),
        registry.check_types,
    )


def test_a_monitor_name_of_100000_characters_is_refused(registry: PluginRegistry) -> None:
    found = errors_of(MONITOR.replace('"Web"', f'"{"x" * 100_000}"'), registry)
    assert found == ["monitors[0].name: must be at most 200 characters"]


def test_component_descriptions_are_at_most_5000_characters(registry: PluginRegistry) -> None:
    text = MONITOR + PAGE + f"public_description = '{'d' * 5001}'\n"
    found = errors_of(text, registry)
    assert "pages[0].components[0].public_description: must be at most 5000 characters" in found


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('[server]\nintervl = "1s"\n', "server.intervl"),  # a monitor key, not a server key
        (MONITOR + "[[pages]]\nslug = 'a'\ntitle = 'A'\npublic_nam = 'x'\n", "pages[0].public_nam"),
        ('[storage]\nlisten = "x"\n', "storage.listen"),  # a key of [server], not of [storage]
        ('[defaults]\nintervl = "1m"\n', "defaults.intervl"),
    ],
)
def test_no_suggestion_from_another_table(text: str, path: str, registry) -> None:
    found = [e for e in errors_of(text, registry) if e.startswith(f"{path}: ")]
    assert len(found) == 1 and "did you mean" not in found[0], found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[storage]\nretention = 3\n",
            "storage.retention: unknown key 'retention' (did you mean 'retention_days'?)",
        ),
        (
            MONITOR + PAGE + "public_nam = 'x'\n",
            "pages[0].components[0].public_nam: unknown key 'public_nam'"
            " (did you mean 'public_name'?)",
        ),
        (
            "[public.rate_limit]\nburts = 3\n",
            "public.rate_limit.burts: unknown key 'burts' (did you mean 'burst'?)",
        ),
        (
            "[defaults]\nnotifyy = []\n",
            "defaults.notifyy: unknown key 'notifyy' (did you mean 'notify'?)",
        ),
        (
            "[[maintenance]]\nid = 'm'\ntitle = 'M'\nduration = '1h'\nweekly = { days = ['mon'], att = '01:00' }\n",
            "maintenance[0].weekly.att: unknown key 'att' (did you mean 'at'?)",
        ),
    ],
)
def test_suggestions_come_from_the_same_table(text: str, expected: str, registry) -> None:
    assert expected in errors_of(text, registry)
