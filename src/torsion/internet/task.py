"""Scheduling helpers. Twisted: ``twisted.internet.task``.

This module holds :class:`Clock` (a fake clock for tests that need no real
time), :func:`deferLater` and :func:`react`; :class:`LoopingCall` lives in
:mod:`torsion.internet._looping` and the :class:`Cooperator` family in
:mod:`torsion.internet._cooperator`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, NoReturn, TypeVar

from torsion.internet._cooperator import (
    CooperativeTask,
    Cooperator,
    NotPaused,
    SchedulerError,
    SchedulerStopped,
    TaskDone,
    TaskFailed,
    TaskFinished,
    TaskStopped,
    coiterate,
    cooperate,
)
from torsion.internet._defer import Deferred, ensureDeferred
from torsion.internet._looping import LoopingCall
from torsion.internet.base import DelayedCall
from torsion.internet.error import ReactorNotRunning
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "Clock",
    "CooperativeTask",
    "Cooperator",
    "LoopingCall",
    "NotPaused",
    "SchedulerError",
    "SchedulerStopped",
    "TaskDone",
    "TaskFailed",
    "TaskFinished",
    "TaskStopped",
    "coiterate",
    "cooperate",
    "deferLater",
    "react",
]

_T = TypeVar("_T")


class Clock:
    """A deterministic ``IReactorTime``: time moves only by :meth:`advance`.

    Twisted: ``twisted.internet.task.Clock``.  Due calls run in time order;
    an exception raised by a call propagates out of :meth:`advance`.

    Attributes:
        rightNow: the current time in seconds.
        calls: the pending :class:`DelayedCall` objects, soonest first.
    """

    rightNow = 0.0

    def __init__(self) -> None:
        self.calls: list[DelayedCall] = []

    def seconds(self) -> float:
        """The fake current time. Twisted: ``Clock.seconds``."""
        return self.rightNow

    def _sortCalls(self) -> None:
        self.calls.sort(key=lambda call: call.getTime())

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> DelayedCall:
        """Schedule ``callable`` ``delay`` fake seconds from now. Twisted: ``Clock.callLater``."""
        call = DelayedCall(
            self.seconds() + delay, callable, args, kw, self.calls.remove, _noReset, self.seconds
        )
        self.calls.append(call)
        self._sortCalls()
        return call

    def getDelayedCalls(self) -> list[DelayedCall]:
        """The pending calls. Twisted: ``Clock.getDelayedCalls``."""
        return self.calls

    def advance(self, amount: float) -> None:
        """Move time forward by ``amount`` and run the calls that became due.

        Twisted: ``Clock.advance``.
        """
        self.rightNow += amount
        self._sortCalls()
        while self.calls and self.calls[0].getTime() <= self.seconds():
            call = self.calls.pop(0)
            call.called = 1
            call.func(*call.args, **call.kw)
            self._sortCalls()

    def pump(self, timings: Iterable[float]) -> None:
        """Advance by each amount in turn. Twisted: ``Clock.pump``."""
        for amount in timings:
            self.advance(amount)


def _noReset(call: DelayedCall) -> None:
    """Clock re-sorts before running calls, so a reset needs no bookkeeping."""


def deferLater(
    clock: Any, delay: float, callable: Callable[..., _T] | None = None, *args: Any, **kw: Any
) -> Deferred[_T]:
    """A Deferred that fires ``delay`` seconds from now with ``callable(*args, **kw)``.

    Twisted: ``task.deferLater``.  Without ``callable`` it fires with None.
    Cancelling the Deferred cancels the pending call.

    Args:
        clock: an ``IReactorTime`` (the reactor, or a :class:`Clock`).
        delay: seconds to wait.
        callable: what to call then; its result (or error) is the result.
    """

    def cancelCall(_: Deferred[Any]) -> None:
        delayedCall.cancel()

    def callIt(_: object) -> Any:
        if callable is None:
            return None
        return callable(*args, **kw)

    d: Deferred[_T] = Deferred(cancelCall)
    d.addCallback(callIt)
    delayedCall = clock.callLater(delay, d.callback, None)
    return d


def react(
    main: Callable[..., Deferred[Any] | Coroutine[Any, Any, Any]],
    argv: Iterable[object] = (),
    _reactor: Any = None,
) -> NoReturn:
    """Run ``main(reactor, *argv)`` until its Deferred or coroutine finishes, then exit.

    Twisted: ``task.react``.  The reactor is stopped once (unless something
    else already stopped it) and the process exits with ``sys.exit``: code 0
    on success, 1 on a failure (which is logged), or the code of a
    ``SystemExit`` that ``main`` raised.

    Args:
        main: takes the reactor and the items of ``argv``; returns a
            Deferred or a coroutine.
        argv: extra arguments for ``main``.
        _reactor: the reactor to use (for tests); the global one otherwise.
    """
    if _reactor is None:
        from torsion.internet.main import getGlobalReactor

        _reactor = getGlobalReactor()
    reactor = _reactor
    finished = ensureDeferred(main(reactor, *argv))
    code: Any = 0
    stopping = False

    def onShutdown() -> None:
        nonlocal stopping
        stopping = True

    reactor.addSystemEventTrigger("before", "shutdown", onShutdown)

    def stop(result: object, stopReactor: bool) -> None:
        nonlocal code
        if stopReactor:
            try:
                reactor.stop()
            except ReactorNotRunning:
                pass
        if isinstance(result, Failure):
            if result.check(SystemExit) is not None:
                code = result.value.code
            else:
                log.err(result, "main function encountered error")
                code = 1

    def finish(result: object) -> None:
        if stopping:
            stop(result, False)
        else:
            reactor.callWhenRunning(stop, result, True)

    finished.addBoth(finish)
    reactor.run()
    sys.exit(code)
