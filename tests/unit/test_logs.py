"""`aenv run --log-format json`: one JSON object per line, with the traceback of an error."""

from __future__ import annotations

import json
import logging

from aenv.logs import JsonFormatter


def test_a_json_line_per_record() -> None:
    record = logging.LogRecord("aenv.leader", logging.INFO, __file__, 1, "leading as %s", ("a",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "aenv.leader", "leading as a")
    assert line["time"].endswith("+00:00") and "error" not in line


def test_an_error_carries_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("aenv", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in line["error"] and "\n" not in JsonFormatter().format(record)
