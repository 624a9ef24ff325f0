"""The config file as bytes, and the database file it names (issue 10, points 6, 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from uplight.config import ConfigError, check_database_path, load_config, parse_config
from uplight.plugins import PluginRegistry

MONITOR = '[[monitors]]\nid = "web"\nname = "Wéb"\ntype = "http"\nurl = "http://127.0.0.1:1/"\n'


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (MONITOR.encode("latin-1"), "line 3, column 10"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1, column 1"),
        (MONITOR.encode("utf-16"), "line 1, column 1"),
    ],
)
def test_a_file_that_is_not_utf8_is_one_clear_line(
    data: bytes, where: str, tmp_path: Path, registry: PluginRegistry
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path, registry.check_types)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not UTF-8 text")
    assert where in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path, registry: PluginRegistry) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MONITOR.encode())
    config = load_config(path, registry.check_types)
    assert config.monitors[0].name == "Wéb"


def test_a_file_level_error_is_one_line(tmp_path: Path, registry: PluginRegistry) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml", registry.check_types)
    assert (
        str(info.value)
        == f"{tmp_path / 'missing.toml'}: cannot read config: No such file or directory"
    )


def _with_storage(path: str, tmp_path: Path, registry: PluginRegistry):
    source = tmp_path / "config.toml"
    return parse_config(f'[storage]\npath = "{path}"\n', registry.check_types, source=source)


def test_the_database_path_must_be_writable(tmp_path: Path, registry: PluginRegistry) -> None:
    (issue,) = check_database_path(_with_storage("/proc/u.db", tmp_path, registry))
    assert issue.path == "storage.path" and issue.message.startswith("cannot open /proc/u.db: ")
    (tmp_path / "state").write_text("a file where a folder should be")
    (issue,) = check_database_path(_with_storage("state/u.db", tmp_path, registry))
    assert issue.path == "storage.path" and "is not a folder" in issue.message
    (tmp_path / "folder.db").mkdir()
    (issue,) = check_database_path(_with_storage("folder.db", tmp_path, registry))
    assert "is a folder" in issue.message


def test_a_usable_database_path_is_left_as_it_was(tmp_path: Path, registry) -> None:
    assert check_database_path(_with_storage("data/new/u.db", tmp_path, registry)) == []
    assert not (tmp_path / "data").exists()  # checking creates nothing
    (tmp_path / "u.db").write_bytes(b"existing")
    assert check_database_path(_with_storage("u.db", tmp_path, registry)) == []
    assert (tmp_path / "u.db").read_bytes() == b"existing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.db"]
