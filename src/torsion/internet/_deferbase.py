"""The pieces of the Deferred machinery that do not need the Deferred class:
its exceptions, the sentinels and shared constants, and the helper that
reports a failure left unhandled when a Deferred is garbage-collected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "DebugInfo",
    "NotACoroutineError",
    "TimeoutError",
    "logError",
    "passthru",
]

_T = TypeVar("_T")

_NO_KW: dict[str, Any] = {}

Step = tuple[Any, tuple[Any, ...], Any]
Pair = tuple[Step, Step]


class AlreadyCalledError(Exception):
    """A Deferred was fired twice. Twisted: ``defer.AlreadyCalledError``."""


class CancelledError(Exception):
    """A Deferred was cancelled. Twisted: ``defer.CancelledError``."""


class TimeoutError(Exception):
    """A Deferred did not fire before its timeout. Twisted: ``defer.TimeoutError``."""


class NotACoroutineError(TypeError):
    """Something that is not a coroutine was given where one is needed.

    Twisted: ``defer.NotACoroutineError``.
    """


def passthru(arg: _T) -> _T:
    """Return ``arg`` unchanged: the default callback and errback.

    Twisted: ``defer.passthru``.
    """
    return arg


def logError(err: Failure) -> Failure:
    """Log ``err`` and pass it on: an errback for the middle of a chain.

    Twisted: ``defer.logError``.
    """
    log.err(err)
    return err


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_NO_RESULT: Any = _Sentinel("NO_RESULT")
_CONTINUE: Any = _Sentinel("CONTINUE")
_PASS: Step = (passthru, (), _NO_KW)


class _DebugInfo:
    """What is needed to report an unhandled failure when a Deferred is collected."""

    __slots__ = ("creator", "failResult", "invoker")

    def __init__(self) -> None:
        self.failResult: Failure | None = None
        self.creator: list[str] | None = None
        self.invoker: list[str] | None = None

    def _getDebugTracebacks(self) -> str:
        text = ""
        if self.creator is not None:
            stack = "".join(self.creator).rstrip().replace("\n", "\n C:")
            text += f" C: Deferred was created:\n C:{stack}\n"
        if self.invoker is not None:
            stack = "".join(self.invoker).rstrip().replace("\n", "\n I:")
            text += f" I: First Invoker was:\n I:{stack}\n"
        return text

    def __del__(self) -> None:
        failure = self.failResult
        if failure is not None:
            extra = self._getDebugTracebacks()
            why = "Unhandled error in Deferred:"
            if extra:
                why += f"\n(debug: {extra})"
            log.err(failure, why)


DebugInfo = _DebugInfo


def _cancelledToTimedOutError(value: Any, timeout: float) -> Any:
    """The default ``onTimeoutCancel`` of ``addTimeout``: CancelledError -> TimeoutError."""
    if isinstance(value, Failure):
        value.trap(CancelledError)
        raise TimeoutError(timeout, "Deferred")
    return value


def _addTimeout(
    d: Any, timeout: float, clock: Any, onTimeoutCancel: Callable[[Any, float], Any] | None
) -> None:
    """``Deferred.addTimeout``: cancel ``d`` after ``timeout`` seconds on ``clock``."""
    timedOut = False

    def onTimeout() -> None:
        nonlocal timedOut
        timedOut = True
        d.cancel()

    delayedCall = clock.callLater(timeout, onTimeout)

    def convertCancelled(result: Any) -> Any:
        if timedOut:
            return (onTimeoutCancel or _cancelledToTimedOutError)(result, timeout)
        return result

    def cancelTimeout(result: Any) -> Any:
        if delayedCall.active():
            delayedCall.cancel()
        return result

    d.addBoth(convertCancelled)
    d.addBoth(cancelTimeout)
