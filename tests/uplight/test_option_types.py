"""Option types of the public API shared by plugins: ``CAFile`` and ``HttpHeaders``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme
from pydantic import BaseModel, ValidationError

from uplight import CAFile, HttpHeaders
from uplight.paths import CONFIG_DIR


class Options(BaseModel):
    ca_file: CAFile | None = None
    headers: HttpHeaders = {}


def problem(data: dict[str, object], context: dict[str, object] | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        Options.model_validate(data, context=context)
    [error] = caught.value.errors()
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_a_ca_file_is_relative_to_the_config_folder(ca_file: Path) -> None:
    options = Options.model_validate({"ca_file": "ca.pem"}, context={CONFIG_DIR: ca_file.parent})
    assert options.ca_file == ca_file


def test_a_missing_ca_file(tmp_path: Path) -> None:
    assert problem({"ca_file": str(tmp_path / "nope.pem")}).startswith(
        f"ca_file: Value error, file not found: {tmp_path / 'nope.pem'}"
    )


def test_a_folder_is_not_a_ca_file(tmp_path: Path) -> None:
    assert problem({"ca_file": str(tmp_path)}) == f"ca_file: Value error, not a file: {tmp_path}"


@pytest.mark.parametrize("content", ["", "not a certificate\n"])
def test_a_ca_file_must_hold_a_pem_certificate(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ca.pem"
    path.write_text(content)
    assert problem({"ca_file": str(path)}).startswith(
        f"ca_file: Value error, cannot load {path} as a PEM CA bundle: "
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_ca_file(ca_file: Path) -> None:
    ca_file.chmod(0)
    assert "cannot load" in problem({"ca_file": str(ca_file)})


def test_headers_are_secrets_with_token_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLIGHT_TEST_TOKEN", "Bearer abc")
    options = Options.model_validate({"headers": {"Authorization": {"env": "UPLIGHT_TEST_TOKEN"}}})
    assert options.headers["Authorization"].get_secret_value() == "Bearer abc"
    assert "abc" not in repr(options)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Bad Name": "x"}, "invalid header name 'Bad Name'"),
        ({"X-A": "a\r\nX-B: b"}, "header 'X-A': value must not contain line breaks"),
    ],
)
def test_bad_headers(headers: dict[str, str], message: str) -> None:
    assert problem({"headers": headers}) == f"headers: Value error, {message}"
