"""The JSON log formatter's shape: what journald, Loki or Vector parse."""

from __future__ import annotations

import json
import logging
import sys

from uplight.logs import JsonFormatter


def _record(exc_info: logging._SysExcInfoType) -> logging.LogRecord:
    return logging.LogRecord("uplight.test", logging.ERROR, __file__, 1, "a %s", ("b",), exc_info)


def test_an_exception_and_extra_fields_stay_on_one_line() -> None:
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        record = _record(sys.exc_info())
    record.monitor = "web"  # as logging's extra= sets it
    record.opaque = object()  # not JSON: left out, never repr()'d
    record.message = "reserved keys are not overwritten"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "uplight.test"
    assert entry["message"] == "a b"
    assert entry["monitor"] == "web" and "opaque" not in entry
    assert "ValueError: line one\nline two" in entry["exception"]
