"""The join: down at a quorum of locations within the window, degraded likewise."""

from __future__ import annotations

import datetime as dt

from uplight.config import parse_config
from uplight.models import CheckStatus
from uplight.plugins import PluginRegistry
from uplight.probes.join import LocationJoin, LocationState, join_statuses

UP, DEG, DOWN = CheckStatus.UP, CheckStatus.DEGRADED, CheckStatus.DOWN
AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def test_the_rule() -> None:
    assert join_statuses([DOWN, UP], 2) is UP
    assert join_statuses([DOWN, DOWN], 2) is DOWN
    assert join_statuses([DOWN, DEG], 2) is DEG
    assert join_statuses([DOWN, UP, UP], 1) is DOWN
    assert join_statuses([DEG, DOWN, UP], 2) is DEG
    assert join_statuses([], 1) is UP


def join(registry: PluginRegistry) -> LocationJoin:
    config = parse_config(
        '[[monitors]]\nid = "edge"\nname = "Edge"\ntype = "http"\nurl = "http://x/"\n'
        'interval = "1m"\nlocations = ["home", "fra1", "nyc"]\n',
        registry.check_types,
    )
    return LocationJoin(config.monitors, "local")


def test_a_stale_location_has_no_vote(registry: PluginRegistry) -> None:
    joined = join(registry)
    old = LocationState("home", DOWN, AT - dt.timedelta(minutes=5), "refused")
    assert joined.observe("edge", old, AT) is None  # history, not a vote
    result = joined.observe("edge", LocationState("fra1", DOWN, AT, "refused"), AT)
    assert result is not None and result.status is UP  # 1 of 3 counted: quorum is 2
    assert "home: no recent result" in result.message
    result = joined.observe("edge", LocationState("nyc", DOWN, AT, "timeout"), AT)
    assert result is not None and result.status is DOWN
    assert result.message.startswith("down at 2 of 3 locations (quorum 2)")
    assert "nyc: down (timeout)" in result.message


def test_an_older_result_than_the_known_one_changes_nothing(registry: PluginRegistry) -> None:
    joined = join(registry)
    assert joined.observe("edge", LocationState("home", UP, AT, ""), AT) is not None
    earlier = LocationState("home", DOWN, AT - dt.timedelta(seconds=5), "late")
    assert joined.observe("edge", earlier, AT) is None
    assert joined.states("edge")["home"].status is UP
    assert joined.observe("other", LocationState("home", UP, AT, ""), AT) is None
