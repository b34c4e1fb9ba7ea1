"""Twisted's legacy logging API, carried by the standard ``logging`` module.

Everything torsion logs is a stdlib ``logging`` record on a logger under
``torsion.`` (``torsion.log`` for :func:`msg`/:func:`err`).  The functions
here give that pipeline Twisted's vocabulary:

* :func:`msg` and :func:`err` emit records carrying a Twisted-style *event
  dict* (``message``, ``isError``, ``failure``, ``why``, ``system``, ``time``).
* :func:`addObserver` attaches a ``logging.Handler`` that hands each record's
  event dict to a Twisted-style observer callable.
* :func:`startLogging` writes Twisted's line format
  (``2024-01-01 12:00:00+0000 [system] text``) to a file and, like Twisted,
  can redirect ``sys.stdout``/``sys.stderr`` into the log.

Nothing here configures logging at import time.  Without :func:`startLogging`
the stdlib defaults apply: errors reach standard error, information is
dropped unless the application configures ``logging``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import IO, Any, TypeVar

from torsion.python.failure import Failure

__all__ = [
    "FileLogObserver",
    "LogPublisher",
    "NullFile",
    "PythonLoggingObserver",
    "StdioOnnaStick",
    "addObserver",
    "callWithContext",
    "callWithLogger",
    "deferr",
    "discardLogs",
    "err",
    "logerr",
    "msg",
    "removeObserver",
    "startLogging",
    "startLoggingWithObserver",
    "textFromEventDict",
]

EventDict = dict[str, Any]
Observer = Callable[[EventDict], object]
_R = TypeVar("_R")

#: The stdlib logger that :func:`msg` and :func:`err` write to.
logger = logging.getLogger("torsion.log")
_root = logging.getLogger("torsion")

_DEFAULT_CONTEXT: dict[str, Any] = {"system": "-"}
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "torsion_log_context", default=None
)


def _currentContext() -> dict[str, Any]:
    return _context.get() or _DEFAULT_CONTEXT


_EVENT_ATTR = "torsion_event"


def callWithContext(ctx: dict[str, Any], func: Callable[..., _R], *args: Any, **kw: Any) -> _R:
    """Call ``func`` with ``ctx`` merged into the logging context.

    Twisted: ``twisted.python.log.callWithContext``.
    """
    merged = dict(_currentContext())
    merged.update(ctx)
    token = _context.set(merged)
    try:
        return func(*args, **kw)
    finally:
        _context.reset(token)


def callWithLogger(logger: Any, func: Callable[..., _R], *args: Any, **kw: Any) -> _R | None:
    """Call ``func`` with ``logger.logPrefix()`` as the log system; log errors.

    Twisted: ``twisted.python.log.callWithLogger``.  An exception raised by
    ``func`` is logged with :func:`err` and None is returned.
    """
    try:
        prefix = logger.logPrefix()
    except Exception:
        prefix = "(buggy logPrefix method)"
        err(system=prefix)
    try:
        return callWithContext({"system": prefix}, func, *args, **kw)
    except Exception:
        err(system=prefix)
        return None


def _emit(level: int, event: EventDict) -> None:
    if not logger.isEnabledFor(level):
        return
    text = textFromEventDict(event)
    if text is None:
        text = repr({k: v for k, v in event.items() if k not in ("time",)})
    logger.log(level, "%s", text, extra={_EVENT_ATTR: event}, stacklevel=3)


def msg(*message: Any, **kw: Any) -> None:
    """Log a message; positional parts are joined with spaces.

    Twisted: ``twisted.python.log.msg``.  Keywords become event-dict keys;
    ``format=`` renders the event with ``%``-formatting, ``isError=1``
    logs at ERROR level.
    """
    event: EventDict = dict(_currentContext())
    event.update(kw)
    event["message"] = message
    event["time"] = time.time()
    event.setdefault("isError", 0)
    _emit(logging.ERROR if event["isError"] else logging.INFO, event)


def err(_stuff: object = None, _why: str | None = None, **kw: Any) -> None:
    """Log an error: a Failure, an exception, or the exception being handled.

    Twisted: ``twisted.python.log.err``.

    Args:
        _stuff: a :class:`Failure`, an exception, or None for ``sys.exc_info()``.
        _why: a one-line explanation printed above the traceback.
        **kw: extra event-dict keys.
    """
    if _stuff is None:
        _stuff = Failure()
    if isinstance(_stuff, BaseException) and not isinstance(_stuff, Failure):
        _stuff = Failure(_stuff)
    if isinstance(_stuff, Failure):
        msg(failure=_stuff, why=_why, isError=1, **kw)
    else:
        msg(repr(_stuff), why=_why, isError=1, **kw)


deferr = err


def _safeFormat(fmt: str, event: EventDict) -> str:
    try:
        return fmt % event
    except Exception as e:
        return f"Invalid format string or unformattable object in log message: {fmt!r}, {e}"


def textFromEventDict(eventDict: EventDict) -> str | None:
    """Render an event dict as text, or None when it carries nothing printable.

    Twisted: ``twisted.python.log.textFromEventDict``.
    """
    message = eventDict.get("message")
    if message:
        return " ".join(_safe(m) for m in message)
    if eventDict.get("isError") and "failure" in eventDict:
        why = eventDict.get("why")
        header = _safe(why) if why else "Unhandled Error"
        try:
            tb = str(eventDict["failure"].getTraceback())
        except Exception as e:
            tb = f"(unable to obtain traceback): {e}"
        return header + "\n" + tb
    if "format" in eventDict:
        return _safeFormat(str(eventDict["format"]), eventDict)
    return None


def _safe(obj: object) -> str:
    try:
        return str(obj)
    except Exception:
        return f"<{type(obj).__name__} with broken __str__>"


def _eventFromRecord(record: logging.LogRecord) -> EventDict:
    event = getattr(record, _EVENT_ATTR, None)
    if event is not None:
        return dict(event)
    text = record.getMessage()
    result: EventDict = {
        "message": (text,),
        "time": record.created,
        "system": record.name,
        "isError": int(record.levelno >= logging.ERROR),
        "logLevel": record.levelno,
    }
    if record.exc_info and record.exc_info[1] is not None:
        result["failure"] = Failure(record.exc_info[1], record.exc_info[0], record.exc_info[2])
    return result


class _ObserverHandler(logging.Handler):
    """A stdlib handler that feeds each record's event dict to an observer."""

    def __init__(self, observer: Observer) -> None:
        super().__init__(logging.DEBUG)
        self.observer = observer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.observer(_eventFromRecord(record))
        except Exception:
            self.handleError(record)


class LogPublisher:
    """The set of installed observers (Twisted: ``log.LogPublisher``)."""

    def __init__(self) -> None:
        self._handlers: dict[Any, _ObserverHandler] = {}

    @property
    def observers(self) -> list[Observer]:
        return [h.observer for h in self._handlers.values()]

    def addObserver(self, observer: Observer) -> None:
        if observer in self._handlers:
            return
        handler = _ObserverHandler(observer)
        self._handlers[observer] = handler
        _root.addHandler(handler)
        if _root.level == logging.NOTSET or _root.level > logging.INFO:
            _root.setLevel(logging.INFO)

    def removeObserver(self, observer: Observer) -> None:
        handler = self._handlers.pop(observer, None)
        if handler is not None:
            _root.removeHandler(handler)

    def msg(self, *message: Any, **kw: Any) -> None:
        msg(*message, **kw)


theLogPublisher = LogPublisher()


def addObserver(observer: Observer) -> None:
    """Send every torsion log event to ``observer``. Twisted: ``log.addObserver``."""
    theLogPublisher.addObserver(observer)


def removeObserver(observer: Observer) -> None:
    """Stop sending events to ``observer``. Twisted: ``log.removeObserver``."""
    theLogPublisher.removeObserver(observer)


class FileLogObserver:
    """Writes events to a text file in Twisted's line format.

    Twisted: ``twisted.python.log.FileLogObserver``.  Continuation lines of a
    multi-line message are indented with a tab.
    """

    timeFormat: str | None = None

    def __init__(self, f: IO[str]) -> None:
        self.write = f.write
        self.flush = f.flush

    def formatTime(self, when: float) -> str:
        """Format ``when`` (a POSIX timestamp) in local time with its UTC offset."""
        local = datetime.fromtimestamp(when, timezone.utc).astimezone()
        if self.timeFormat is not None:
            return local.strftime(self.timeFormat)
        return local.strftime("%Y-%m-%d %H:%M:%S%z")

    def emit(self, eventDict: EventDict) -> None:
        """Write one event."""
        text = textFromEventDict(eventDict)
        if text is None:
            return
        line = "{} [{}] {}\n".format(
            self.formatTime(eventDict.get("time", time.time())),
            eventDict.get("system", "-"),
            text.replace("\n", "\n\t"),
        )
        self.write(line)
        self.flush()

    def start(self) -> None:
        addObserver(self.emit)

    def stop(self) -> None:
        removeObserver(self.emit)


class PythonLoggingObserver:
    """Re-emits torsion events on another stdlib logger (default ``twisted``).

    Twisted: ``twisted.python.log.PythonLoggingObserver``.  Events already live
    in stdlib logging under ``torsion.``; this copies them to ``loggerName``
    for code that configured handlers on Twisted's logger name.
    """

    def __init__(self, loggerName: str = "twisted") -> None:
        self._newLog = logging.getLogger(loggerName)

    def emit(self, eventDict: EventDict) -> None:
        if "logLevel" in eventDict:
            level = eventDict["logLevel"]
        elif eventDict.get("isError"):
            level = logging.ERROR
        else:
            level = logging.INFO
        text = textFromEventDict(eventDict)
        if text is None:
            return
        self._newLog.log(level, "%s", text)

    def start(self) -> None:
        addObserver(self.emit)

    def stop(self) -> None:
        removeObserver(self.emit)


class StdioOnnaStick:
    """A file-like object that turns written lines into log events.

    Twisted: ``twisted.python.log.StdioOnnaStick``.
    """

    closed = 0
    softspace = 0
    mode = "wb"
    name = "<stdio (log)>"

    def __init__(self, isError: int = 0, encoding: str | None = None) -> None:
        self.isError = isError
        self.encoding = encoding or sys.getdefaultencoding()
        self.buf = ""

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def flush(self) -> None:
        pass

    def read(self) -> str:
        raise OSError("can't read from the log!")

    readline = read
    readlines = read
    seek = read
    tell = read

    def isatty(self) -> bool:
        return False

    def write(self, data: str) -> int:
        d = (self.buf + data).split("\n")
        self.buf = d[-1]
        for line in d[:-1]:
            msg(line, printed=1, isError=self.isError)
        return len(data)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            msg(line, printed=1, isError=self.isError)


class NullFile:
    """A file that discards what is written (Twisted: ``log.NullFile``)."""

    softspace = 0

    def write(self, data: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


logerr: Any = StdioOnnaStick(isError=1)

_started: list[Observer] = []


def startLoggingWithObserver(observer: Observer, setStdout: int = 1) -> None:
    """Begin logging to ``observer``; optionally capture stdout and stderr.

    Twisted: ``twisted.python.log.startLoggingWithObserver``.
    """
    addObserver(observer)
    _started.append(observer)
    # An observer now sees every record; stop the same records from also
    # reaching the stdlib root handlers (and the last-resort stderr handler).
    _root.propagate = False
    if setStdout:
        sys.stdout = StdioOnnaStick(0, getattr(sys.stdout, "encoding", None))
        sys.stderr = StdioOnnaStick(1, getattr(sys.stderr, "encoding", None))
    warnings.showwarning = _showwarning
    msg("Log opened.")


def startLogging(file: IO[str], *a: Any, **kw: Any) -> FileLogObserver:
    """Begin logging to ``file`` in Twisted's format.

    Twisted: ``twisted.python.log.startLogging``.

    Args:
        file: an open text file, e.g. ``sys.stdout``.
        setStdout: when true (the default), ``print`` output and standard
            error become log lines too.

    Returns:
        The installed :class:`FileLogObserver`.
    """
    flo = FileLogObserver(file)
    startLoggingWithObserver(flo.emit, *a, **kw)
    return flo


def discardLogs() -> None:
    """Drop all events: remove every observer started here."""
    for observer in _started:
        removeObserver(observer)
    _started.clear()


def _showwarning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    msg(warnings.formatwarning(message, category, filename, lineno, line).rstrip())
