"""Scheduling helpers. Twisted: ``twisted.internet.task``.

This module holds :class:`Clock`, a fake clock for tests that need no real
time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torsion.internet.base import DelayedCall

__all__ = ["Clock"]


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
