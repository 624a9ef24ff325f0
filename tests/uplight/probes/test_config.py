"""A monitor's locations, quorum and window: defaults and errors naming the field."""

from __future__ import annotations

import pytest

from tests.uplight.config.test_config import GOOD_MONITOR as MONITOR
from tests.uplight.config.test_config import errors_of
from uplight.plugins import PluginRegistry


def test_a_monitor_is_checked_by_the_server_alone_by_default(make_config) -> None:
    config = make_config(MONITOR)
    monitor = config.monitors[0]
    assert config.server.location == "local"
    assert monitor.location_names(config.server.location) == ("local",)
    assert not monitor.joined(config.server.location)
    assert monitor.needed() == 1
    assert monitor.window() == 2 * monitor.interval


def test_locations_quorum_and_window(make_config) -> None:
    config = make_config(
        '[server]\nlocation = "home"\n'
        + MONITOR
        + 'locations = ["home", "fra1", "nyc"]\nquorum_window = "5m"\n'
    )
    monitor = config.monitors[0]
    assert monitor.location_names("home") == ("home", "fra1", "nyc")
    assert monitor.joined("home")
    assert monitor.needed() == 2  # a majority of three
    assert monitor.window() == 300
    # Its own location named alone is the default spelled out.
    alone = make_config(MONITOR + 'locations = ["local"]\n').monitors[0]
    assert not alone.joined("local")


def test_a_majority_of_two_is_both(make_config) -> None:
    monitor = make_config(MONITOR + 'locations = ["home", "fra1"]\n').monitors[0]
    assert monitor.needed() == 2
    one = make_config(MONITOR + 'locations = ["home", "fra1"]\nquorum = 1\n').monitors[0]
    assert one.needed() == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("locations = []", "monitors[0].locations: must name at least one location"),
        ('locations = ["home", "home"]', "monitors[0].locations: names 'home' more than once"),
        ('locations = ["Home"]', "monitors[0].locations[0]"),
        ('locations = ["a", "b"]\nquorum = 3', "quorum (3) must not be more than its locations"),
        ("quorum = 2", "quorum (2) must not be more than its locations (1)"),
        ("quorum = 0", "monitors[0].quorum"),
        ('quorum_window = "0s"', "monitors[0].quorum_window"),
    ],
)
def test_bad_locations_are_refused_naming_the_field(
    registry: PluginRegistry, extra: str, expected: str
) -> None:
    errors = errors_of(MONITOR + extra + "\n", registry)
    assert any(expected in error for error in errors), errors


def test_a_bad_server_location_names_the_field(registry: PluginRegistry) -> None:
    errors = errors_of('[server]\nlocation = "Not ok"\n', registry)
    assert any(error.startswith("server.location") for error in errors), errors


@pytest.mark.parametrize(
    "monitor",
    [
        'type = "push"\ntoken = "a-ping-token-0123456789abcdef"\nperiod = "1h"',
        'type = "manual"',
        'type = "group"\nmembers = ["web"]',
    ],
)
def test_monitors_judged_on_the_server_take_no_locations(
    registry: PluginRegistry, monitor: str
) -> None:
    text = MONITOR + f'\n[[monitors]]\nid = "x"\nname = "X"\n{monitor}\nlocations = ["fra1"]\n'
    errors = errors_of(text, registry)
    assert any(e.startswith("monitors[1].locations: a ") for e in errors), errors
