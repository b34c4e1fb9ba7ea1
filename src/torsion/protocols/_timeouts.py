"""Idle timeouts: ``TimeoutMixin``, ``TimeoutProtocol``, ``TimeoutFactory``.

Public through :mod:`torsion.protocols.policies`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from torsion.internet import error
from torsion.protocols._wrapping import ProtocolWrapper, WrappingFactory, _callLater
from torsion.python.failure import Failure

__all__ = ["TimeoutFactory", "TimeoutMixin", "TimeoutProtocol"]


class TimeoutProtocol(ProtocolWrapper):
    """Closes its connection after ``timeoutPeriod`` idle seconds.

    Twisted: ``twisted.protocols.policies.TimeoutProtocol``.  Data in either
    direction restarts the countdown.
    """

    def __init__(self, factory: Any, wrappedProtocol: Any, timeoutPeriod: float | None) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.timeoutCall: Any = None
        self.timeoutPeriod: float | None = None
        self.setTimeout(timeoutPeriod)

    def setTimeout(self, timeoutPeriod: float | None = None) -> None:
        """Cancel the countdown and, unless ``timeoutPeriod`` is None, start a new one."""
        self.cancelTimeout()
        self.timeoutPeriod = timeoutPeriod
        if timeoutPeriod is not None:
            self.timeoutCall = self.factory.callLater(timeoutPeriod, self.timeoutFunc)

    def cancelTimeout(self) -> None:
        """Stop the countdown (harmless if there is none)."""
        self.timeoutPeriod = None
        if self.timeoutCall:
            try:
                self.timeoutCall.cancel()
            except (error.AlreadyCalled, error.AlreadyCancelled):
                pass
            self.timeoutCall = None

    def resetTimeout(self) -> None:
        """Restart the countdown: something happened."""
        if self.timeoutCall:
            self.timeoutCall.reset(self.timeoutPeriod)

    def write(self, data: bytes) -> None:
        self.resetTimeout()
        ProtocolWrapper.write(self, data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        self.resetTimeout()
        ProtocolWrapper.writeSequence(self, seq)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.cancelTimeout()
        ProtocolWrapper.connectionLost(self, reason)

    def timeoutFunc(self) -> None:
        """The connection was idle too long: close it (override to do otherwise)."""
        self.loseConnection()


class TimeoutFactory(WrappingFactory):
    """Wraps protocols in :class:`TimeoutProtocol`.

    Twisted: ``twisted.protocols.policies.TimeoutFactory``.

    Args:
        wrappedFactory: the factory to wrap.
        timeoutPeriod: idle seconds before closing (30 minutes).
        clock: the ``IReactorTime`` to use (torsion addition; default: the
            global reactor).
    """

    protocol = TimeoutProtocol

    def __init__(
        self, wrappedFactory: Any, timeoutPeriod: float = 30 * 60, clock: Any = None
    ) -> None:
        self.timeoutPeriod = timeoutPeriod
        self.clock = clock
        WrappingFactory.__init__(self, wrappedFactory)

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol in a :class:`TimeoutProtocol`."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped, timeoutPeriod=self.timeoutPeriod)

    def callLater(self, period: float, func: Callable[[], Any]) -> Any:
        """Schedule ``func`` on ``self.clock`` (or the global reactor)."""
        return _callLater(self.clock, period, func)


class TimeoutMixin:
    """Gives a protocol one idle timeout.

    Twisted: ``twisted.protocols.policies.TimeoutMixin``.  :meth:`setTimeout`
    starts (or changes, or with None cancels) the countdown,
    :meth:`resetTimeout` restarts it, and when it runs out
    :meth:`timeoutConnection` is called (by default: close).

    Attributes:
        timeOut: the current period in seconds, or None.
        clock: the ``IReactorTime`` used (torsion addition; None means the
            global reactor).  Overriding :meth:`callLater` works too.
    """

    timeOut: float | None = None
    clock: Any = None
    __timeoutCall: Any = None

    def callLater(self, period: float, func: Callable[[], Any]) -> Any:
        """Schedule ``func`` on ``self.clock`` (or the global reactor)."""
        return _callLater(self.clock, period, func)

    def resetTimeout(self) -> None:
        """Restart the countdown, unless it ran out or was cancelled."""
        if self.__timeoutCall is not None and self.timeOut is not None:
            self.__timeoutCall.reset(self.timeOut)

    def setTimeout(self, period: float | None) -> float | None:
        """Set the period (None cancels the timeout); return the previous one."""
        prev = self.timeOut
        self.timeOut = period
        if self.__timeoutCall is not None:
            if period is None:
                try:
                    self.__timeoutCall.cancel()
                except (error.AlreadyCancelled, error.AlreadyCalled):
                    pass
                self.__timeoutCall = None
            else:
                self.__timeoutCall.reset(period)
        elif period is not None:
            self.__timeoutCall = self.callLater(period, self.__timedOut)
        return prev

    def __timedOut(self) -> None:
        self.__timeoutCall = None
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        """The timeout ran out: close the connection (override to do otherwise)."""
        cast(Any, self).transport.loseConnection()
