"""torsion.python.log: Twisted's legacy logging API over stdlib logging."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from torsion.python import log
from torsion.python.failure import Failure


@pytest.fixture
def observed() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        yield events
    finally:
        log.removeObserver(events.append)


def test_msg_reaches_observers(observed: list[dict[str, Any]]) -> None:
    """msg() builds Twisted's event dict: message tuple, isError, time, extra keys."""
    log.msg("hello", 42, system="proto", extra="x")
    [event] = observed
    assert event["message"] == ("hello", 42)
    assert event["isError"] == 0
    assert event["system"] == "proto"
    assert event["extra"] == "x"
    assert isinstance(event["time"], float)
    assert log.textFromEventDict(event) == "hello 42"


def test_err_with_failure_exception_and_current(
    observed: list[dict[str, Any]], logged_errors: Any
) -> None:
    """err() accepts a Failure, an exception, or captures the current exception."""
    log.err(Failure(ValueError("a")), "why a")
    log.err(KeyError("b"))
    try:
        raise ZeroDivisionError("c")
    except ZeroDivisionError:
        log.err()
    assert [e["isError"] for e in observed] == [1, 1, 1]
    assert [type(e["failure"].value).__name__ for e in observed] == [
        "ValueError",
        "KeyError",
        "ZeroDivisionError",
    ]
    text = log.textFromEventDict(observed[0])
    assert text is not None and text.startswith("why a\nTraceback")
    assert log.textFromEventDict(observed[1]).startswith("Unhandled Error\n")  # type: ignore[union-attr]
    assert len(logged_errors.flush()) == 3


def test_format_key(observed: list[dict[str, Any]]) -> None:
    """An event with format= and no message is rendered with %-formatting."""
    log.msg(format="%(a)s and %(b)d", a="x", b=2)
    assert log.textFromEventDict(observed[0]) == "x and 2"
    log.msg(format="%(missing)s")
    assert "Invalid format string" in (log.textFromEventDict(observed[1]) or "")


def test_file_log_observer_line_format() -> None:
    """FileLogObserver writes 'DATE TIME+ZZZZ [system] text', tab-indenting continuations."""
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.emit({"message": ("line one\nline two",), "isError": 0, "system": "sys", "time": 0.0})
    line = out.getvalue()
    assert re.match(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} \[sys\] line one\n\tline two\n$", line
    )


def test_start_logging_captures_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """startLogging(file) logs to file and turns print() into log lines."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    root = logging.getLogger("torsion")
    monkeypatch.setattr(root, "propagate", root.propagate)
    observer = log.startLogging(out)
    try:
        print("printed text")
        log.msg("a message")
    finally:
        log.removeObserver(observer.emit)
        log.discardLogs()
    text = out.getvalue()
    assert "Log opened." in text
    assert "printed text" in text
    assert "a message" in text


def test_call_with_logger_sets_system_and_logs_errors(
    observed: list[dict[str, Any]], logged_errors: Any
) -> None:
    """callWithLogger uses logPrefix() as the system and logs an exception."""

    class Thing:
        def logPrefix(self) -> str:
            return "Thing,1"

    assert log.callWithLogger(Thing(), lambda: log.msg("inside") or 5) == 5
    assert observed[0]["system"] == "Thing,1"

    def fails() -> None:
        raise RuntimeError("oops")

    assert log.callWithLogger(Thing(), fails) is None
    assert observed[-1]["system"] == "Thing,1" and observed[-1]["isError"] == 1
    assert len(logged_errors.flush(RuntimeError)) == 1


def test_python_logging_observer(caplog: Any) -> None:
    """PythonLoggingObserver re-emits events on another stdlib logger."""
    caplog.set_level("INFO", logger="twisted")
    observer = log.PythonLoggingObserver()
    observer.emit({"message": ("hi",), "isError": 0, "system": "-", "time": 0.0})
    assert [r.getMessage() for r in caplog.records if r.name == "twisted"] == ["hi"]


def test_stdlib_records_become_events(observed: list[dict[str, Any]]) -> None:
    """Plain stdlib records under torsion reach Twisted-style observers too."""
    logging.getLogger("torsion.something").warning("careful %s", "now")
    assert any(log.textFromEventDict(e) == "careful now" for e in observed)
