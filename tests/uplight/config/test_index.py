"""``Config.monitor`` and ``Config.notifier`` answer from an index by id, not a search."""

from __future__ import annotations

from uplight.config import Config, MonitorConfig


def monitors(count: int, prefix: str = "m") -> tuple[MonitorConfig, ...]:
    return tuple(
        MonitorConfig.model_validate({"id": f"{prefix}{i}", "name": f"M{i}", "type": "http"})
        for i in range(count)
    )


def test_lookups_by_id() -> None:
    config = Config(monitors=monitors(3))
    assert config.monitor("m1") is config.monitors[1]
    assert config.monitor("nope") is None
    assert config.notifier("nope") is None
    assert config.notify_ids("m2") == config.defaults.notify


def test_the_first_of_equal_ids_wins_as_a_search_would() -> None:
    first, second = monitors(1)[0], monitors(1)[0].model_copy(update={"name": "Second"})
    assert Config(monitors=(first, second)).monitor("m0") is first


def test_a_copy_with_other_monitors_answers_from_its_own() -> None:
    config = Config(monitors=monitors(2))
    assert config.monitor("m1") is not None  # the index is built before the copy
    copy = config.model_copy(update={"monitors": monitors(1, prefix="x")})
    assert copy.monitor("m1") is None
    assert copy.monitor("x0") is copy.monitors[0]
    assert config.monitor("m1") is config.monitors[1]
    assert config == Config(monitors=config.monitors)  # the index is not a field


def test_the_index_is_built_once() -> None:
    config = Config(monitors=monitors(100))
    assert all(config.monitor(m.id) is m for m in config.monitors)
    index = config._by_id["monitors"][1]
    assert config.monitor("m99") is config.monitors[99]
    assert config._by_id["monitors"][1] is index
