"""Structured logs: one JSON object per line, extra fields kept, exceptions included."""

from __future__ import annotations

import json
import logging

from mailgate.logjson import JsonFormatter


def test_a_record_is_one_json_line_with_its_extra_fields() -> None:
    record = logging.LogRecord("mailgate.relay", logging.INFO, __file__, 1, "%s -> %s", ("a@x", "b@y"), None)
    record.audit_id = "abc"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["msg"] == "a@x -> b@y" and data["level"] == "info" and data["logger"] == "mailgate.relay"
    assert data["audit_id"] == "abc" and data["ts"].endswith("+00:00")


def test_exceptions_are_kept_inside_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("mailgate", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in data["exc"]
