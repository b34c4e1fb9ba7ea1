"""The state machine behind ``ClientService``.

Twisted: ``twisted.application._client_service`` (an automat machine).  The
states and transitions are Twisted's:

==============  ===========================================================
state           meaning
==============  ===========================================================
init            never started
connecting      ``endpoint.connect()`` (then ``prepareConnection``) pending
waiting         a failed attempt or lost connection; a retry is scheduled
connected       a prepared connection is up
disconnecting   stopping: the attempt was cancelled / the connection closed
restarting      started again while disconnecting
stopped         stopped; ``whenConnected`` fails with ``CancelledError``
==============  ===========================================================

As in automat, entering a state runs its entry action (connect, schedule a
retry, remember the connection) *before* the transition's own action, and an
event that arrives while a transition runs (say a synchronous connection
failure) is handled after it.  ``stop`` and ``whenConnected`` called from
inside a transition (e.g. from a ``whenConnected`` callback) act on the new
state at once; Twisted raises ``RuntimeError`` there.

Where Twisted's machine has no transition (and automat would raise), torsion
does the safe thing: a connection whose ``prepareConnection`` failed, or
that was still being prepared when the service stopped, is closed (Twisted
leaves it open), and stopping waits until it has closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.internet._defer import CancelledError, Deferred, fail, maybeDeferred, succeed
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["ClientMachine"]


class _ReconnectingProtocolProxy:
    """The application protocol, plus a notification when its connection is lost.

    Twisted: ``_client_service._ReconnectingProtocolProxy``; other attributes
    are looked up on the wrapped protocol.
    """

    def __init__(self, protocol: Any, lostNotification: Callable[[Failure], None]) -> None:
        self._protocol = protocol
        self._lostNotification = lostNotification
        self._transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        self._transport = transport
        self._protocol.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self._protocol.dataReceived(data)

    def connectionLost(self, reason: Failure) -> Any:
        try:
            return self._protocol.connectionLost(reason)
        finally:
            self._lostNotification(reason)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._protocol, item)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._protocol!r}>"


class _Attempt:
    """One connection attempt and, if it connected, its connection."""

    deferred: Deferred[Any]
    proxy: _ReconnectingProtocolProxy | None = None
    lost: Failure | None = None  # the connection was lost with this reason
    closing = False  # we closed it because it is not going to be used
    reported = False  # its outcome (connected and prepared, or failed) is known


class _DisconnectFactory:
    """Builds proxies that report to the machine. Twisted: ``_DisconnectFactory``."""

    def __init__(self, factory: Any, machine: ClientMachine, attempt: _Attempt) -> None:
        self._protocolFactory = factory
        self._machine = machine
        self._attempt = attempt

    def buildProtocol(self, addr: Any) -> Any:
        built = self._protocolFactory.buildProtocol(addr)
        if built is None:
            return None
        attempt, machine = self._attempt, self._machine

        def lost(reason: Failure) -> None:
            machine._input(machine._clientDisconnected, attempt, reason)

        attempt.proxy = _ReconnectingProtocolProxy(built, lost)
        return attempt.proxy

    def __getattr__(self, item: str) -> Any:
        return getattr(self._protocolFactory, item)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._protocolFactory!r}>"


class ClientMachine:
    """Keeps one connection to an endpoint, reconnecting per a retry policy."""

    def __init__(
        self,
        endpoint: Any,
        factory: Any,
        retryPolicy: Callable[[int], float],
        getClock: Callable[[], Any],
        prepareConnection: Callable[[Any], object] | None,
    ) -> None:
        self.endpoint = endpoint
        self.factory = factory
        self.retryPolicy = retryPolicy
        self.getClock = getClock
        self.prepareConnection = prepareConnection
        self.state = "init"
        self.failedAttempts = 0
        self.attempt: _Attempt | None = None  # connecting/connected/disconnecting/restarting
        self.retryCall: Any = None  # waiting
        self.stopWaiters: list[Deferred[None]] = []
        self.awaitingConnected: list[tuple[Deferred[Any], int | None]] = []
        self._busy = False
        self._queue: list[Callable[[], None]] = []

    # -- running inputs ------------------------------------------------------

    def _input(self, method: Callable[..., None], *args: Any) -> None:
        """Run an event now, or after the transition in progress."""
        if self._busy:
            self._queue.append(lambda: method(*args))
            return
        self._busy = True
        try:
            method(*args)
            while self._queue:
                self._queue.pop(0)()
        finally:
            self._busy = False
            self._queue.clear()

    def _query(self, method: Callable[..., Deferred[Any]], *args: Any) -> Deferred[Any]:
        """Run an event that returns a Deferred (at once, even inside a transition)."""
        if self._busy:
            return method(*args)
        self._busy = True
        try:
            result = method(*args)
            while self._queue:
                self._queue.pop(0)()
        finally:
            self._busy = False
            self._queue.clear()
        return result

    # -- public events -------------------------------------------------------

    def start(self) -> None:
        self._input(self._start)

    def stop(self) -> Deferred[None]:
        return self._query(self._stop)

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        return self._query(self._whenConnected, failAfterFailures)

    # -- state entry actions -------------------------------------------------

    def _enterConnecting(self) -> None:
        self.state = "connecting"
        self.attempt = attempt = _Attempt()
        attempt.deferred = self.endpoint.connect(_DisconnectFactory(self.factory, self, attempt))

        def prepare(proxy: Any) -> Deferred[Any]:
            if self.prepareConnection is not None:
                return maybeDeferred(self.prepareConnection, proxy).addCallback(lambda _: proxy)
            return succeed(proxy)

        attempt.deferred.addCallback(prepare).addCallback(
            lambda proxy: self._input(self._connectionMade, attempt, proxy)
        ).addErrback(lambda failure: self._input(self._connectionFailed, attempt, failure))

    def _enterWaiting(self) -> None:
        self.state = "waiting"
        self.attempt = None
        self.failedAttempts += 1
        delay = self.retryPolicy(self.failedAttempts)
        log.msg(
            f"Scheduling retry {self.failedAttempts} to connect {self.endpoint} in {delay} seconds."
        )
        self.retryCall = self.getClock().callLater(delay, self._input, self._reconnect)

    def _enterConnected(self, attempt: _Attempt, proxy: _ReconnectingProtocolProxy) -> None:
        self.state = "connected"
        self.attempt = attempt
        self.failedAttempts = 0
        self._unawait(proxy._protocol)

    # -- helpers --------------------------------------------------------------

    def _waitForStop(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.stopWaiters.append(d)
        return d

    def _unawait(self, value: Any) -> None:
        self.awaitingConnected, waiting = [], self.awaitingConnected
        for d, _ in waiting:
            d.callback(value)

    def _cancelConnectWaiters(self) -> None:
        self._unawait(Failure(CancelledError()))

    def _finishStopping(self) -> None:
        self.stopWaiters, waiting = [], self.stopWaiters
        for d in waiting:
            d.callback(None)

    def _finishDisconnecting(self) -> None:
        """The attempt/connection being stopped is gone."""
        self.attempt = None
        if self.state == "restarting":
            self._enterConnecting()
            self._finishStopping()
        else:
            self.state = "stopped"
            self._cancelConnectWaiters()
            self._finishStopping()

    @staticmethod
    def _closeUnused(attempt: _Attempt) -> bool:
        """Close a connection that is up but will not be used; True if one was."""
        proxy = attempt.proxy
        if proxy is None or proxy._transport is None or attempt.lost is not None:
            return False
        attempt.closing = True
        proxy._transport.loseConnection()
        return True

    # -- transitions -------------------------------------------------------------

    def _start(self) -> None:
        if self.state in ("init", "stopped"):
            self._enterConnecting()
        elif self.state == "disconnecting":
            self.state = "restarting"

    def _stop(self) -> Deferred[None]:
        state = self.state
        if state in ("init", "stopped"):
            self.state = "stopped"
            return succeed(None)
        if state == "waiting":
            self.state = "stopped"
            waited = self._waitForStop()
            self._cancelConnectWaiters()
            self.retryCall.cancel()
            self.retryCall = None
            self._finishStopping()
            return waited
        waited = self._waitForStop()
        if state in ("connecting", "connected"):
            self.state = "disconnecting"
            assert self.attempt is not None
            if state == "connecting":
                self.attempt.deferred.cancel()
            else:
                assert self.attempt.proxy is not None
                self.attempt.proxy._transport.loseConnection()
        elif state == "restarting":
            self.state = "disconnecting"
        return waited

    def _whenConnected(self, failAfterFailures: int | None) -> Deferred[Any]:
        if self.state == "connected":
            assert self.attempt is not None and self.attempt.proxy is not None
            return succeed(self.attempt.proxy._protocol)
        if self.state == "stopped":
            return fail(CancelledError())
        d: Deferred[Any] = Deferred()
        self.awaitingConnected.append((d, failAfterFailures))
        return d

    def _connectionMade(self, attempt: _Attempt, proxy: _ReconnectingProtocolProxy) -> None:
        attempt.reported = True
        if attempt is not self.attempt or self.state != "connecting":
            self._closeUnused(attempt)  # not expected; never leave it open
            return
        self._enterConnected(attempt, proxy)

    def _connectionFailed(self, attempt: _Attempt, failure: Failure) -> None:
        attempt.reported = True
        if attempt is not self.attempt:
            return
        if attempt.lost is not None and failure.check(CancelledError):
            failure = attempt.lost  # the connection dropped while being prepared
        closing = self._closeUnused(attempt)
        if self.state == "connected":
            self._enterWaiting()
        elif self.state == "connecting":
            self._enterWaiting()
            ready: list[Deferred[Any]] = []
            notReady: list[tuple[Deferred[Any], int | None]] = []
            for d, remaining in self.awaitingConnected:
                if remaining is None:
                    notReady.append((d, remaining))
                elif remaining <= 1:
                    ready.append(d)
                else:
                    notReady.append((d, remaining - 1))
            self.awaitingConnected = notReady
            for d in ready:
                d.callback(failure)
        elif self.state in ("disconnecting", "restarting") and not closing:
            self._finishDisconnecting()

    def _clientDisconnected(self, attempt: _Attempt, reason: Failure) -> None:
        attempt.lost = reason
        if attempt is not self.attempt:
            return
        if self.state == "connected":
            self._enterWaiting()
        elif self.state == "connecting":
            # Lost while prepareConnection was running: that attempt failed.
            attempt.deferred.cancel()
        elif self.state in ("disconnecting", "restarting") and attempt.reported:
            self._finishDisconnecting()

    def _reconnect(self) -> None:
        if self.state == "waiting":
            self.retryCall = None
            self._enterConnecting()
