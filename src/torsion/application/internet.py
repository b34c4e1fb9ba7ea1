"""Network services. Twisted: ``twisted.application.internet``.

* :class:`ClientService` keeps a client connected to an endpoint,
  reconnecting with a back-off (:func:`backoffPolicy`): the modern
  replacement of ``ReconnectingClientFactory``.
* :class:`StreamServerEndpointService` listens on a server endpoint while
  running; :class:`TCPServer` / :class:`TCPClient` call ``listenTCP`` /
  ``connectTCP`` when started.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from torsion.application._client_service import ClientMachine
from torsion.application.service import Service
from torsion.internet._defer import CancelledError, Deferred
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "ClientService",
    "StreamServerEndpointService",
    "TCPClient",
    "TCPServer",
    "backoffPolicy",
]

_logger = logging.getLogger("torsion.application")


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


def backoffPolicy(
    initialDelay: float = 1.0,
    maxDelay: float = 60.0,
    factor: float = 1.5,
    jitter: Callable[[], float] = random.random,
) -> Callable[[int], float]:
    """An exponential back-off retry policy for :class:`ClientService`.

    Twisted: ``twisted.application.internet.backoffPolicy``.

    Args:
        initialDelay: the base delay in seconds.
        maxDelay: the cap, before jitter is added.
        factor: the growth per failed attempt.
        jitter: called for noise added to each delay (default
            ``random.random``, so 0 to 1 s).

    Returns:
        ``policy(attempt) = min(initialDelay * factor ** min(100, attempt),
        maxDelay) + jitter()``, where ``attempt`` counts failures in a row
        from 1.
    """

    def policy(attempt: int) -> float:
        try:
            delay = min(initialDelay * (factor ** min(100, attempt)), maxDelay)
        except OverflowError:
            delay = maxDelay
        return delay + jitter()

    return policy


_defaultPolicy = backoffPolicy()


class ClientService(Service):
    """Keeps one connection to an endpoint open, reconnecting when it fails.

    Twisted: ``twisted.application.internet.ClientService``.

    Args:
        endpoint: the client endpoint to connect with.
        factory: builds the protocol of each connection.
        retryPolicy: ``policy(failedAttemptsInARow) -> seconds`` to wait
            before the next attempt; :func:`backoffPolicy` by default.
        clock: schedules retries; the global reactor when None (taken when
            first needed).
        prepareConnection: called with each new protocol before it is handed
            out; may return a Deferred.  If it fails, the connection is
            closed and counts as a failed attempt.
    """

    def __init__(
        self,
        endpoint: Any,
        factory: Any,
        retryPolicy: Callable[[int], float] | None = None,
        clock: Any = None,
        prepareConnection: Callable[[Any], object] | None = None,
    ) -> None:
        self._clock = clock

        def getClock() -> Any:
            if self._clock is None:
                self._clock = _globalReactor()
            return self._clock

        self._machine = ClientMachine(
            endpoint,
            factory,
            _defaultPolicy if retryPolicy is None else retryPolicy,
            getClock,
            prepareConnection,
        )

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        """The connected protocol, now or once connected.

        Twisted: ``ClientService.whenConnected``.

        Args:
            failAfterFailures: fail after this many connection failures in a
                row (1: the next failure), instead of waiting for success.

        Returns:
            A Deferred firing with the protocol; failing with the connection
            error after ``failAfterFailures`` failures, or with
            ``CancelledError`` when the service stops.
        """
        return self._machine.whenConnected(failAfterFailures)

    def startService(self) -> None:
        """Start connecting. Twisted: ``ClientService.startService``."""
        if self.running:
            _logger.warning("Duplicate ClientService.startService %r", self)
            return
        super().startService()
        self._machine.start()

    def stopService(self) -> Deferred[None]:
        """Stop retrying and close the connection.

        Returns:
            A Deferred that fires once the connection is closed and any
            attempt in progress has stopped.
        """
        super().stopService()
        return self._machine.stop()


class StreamServerEndpointService(Service):
    """Listens on a server endpoint while running.

    Twisted: ``twisted.application.internet.StreamServerEndpointService``.
    A listen failure is logged (or, when ``_raiseSynchronously`` is set,
    raised from ``startService``).
    """

    _raiseSynchronously = False

    def __init__(self, endpoint: Any, factory: Any) -> None:
        self.endpoint = endpoint
        self.factory = factory
        self._waitingForPort: Deferred[Any] | None = None

    def privilegedStartService(self) -> None:
        """Start listening."""
        Service.privilegedStartService(self)
        self._waitingForPort = self.endpoint.listen(self.factory)
        raisedNow: list[Failure] = []

        def handleIt(err: Failure) -> None:
            if self._raiseSynchronously:
                raisedNow.append(err)
            elif not err.check(CancelledError):
                log.err(err)

        self._waitingForPort.addErrback(handleIt)
        if raisedNow:
            raisedNow[0].raiseException()
        self._raiseSynchronously = False

    def startService(self) -> None:
        """Start listening, unless privilegedStartService already did."""
        Service.startService(self)
        if self._waitingForPort is None:
            self.privilegedStartService()

    def stopService(self) -> Deferred[Any]:
        """Stop listening (or give up listening).

        Returns:
            A Deferred that fires once the port has stopped listening.
        """
        assert self._waitingForPort is not None, "the service was never started"
        self._waitingForPort.cancel()

        def stopIt(port: Any) -> Any:
            if port is not None:
                return port.stopListening()
            return None

        def stopped(passthrough: Any) -> Any:
            self.running = 0
            return passthrough

        return self._waitingForPort.addCallback(stopIt).addBoth(stopped)


class _VolatileDataService(Service):
    volatile: list[str] = []

    def __getstate__(self) -> dict[str, Any]:
        state = Service.__getstate__(self)
        for attr in self.volatile:
            state.pop(attr, None)
        return state


class TCPServer(_VolatileDataService):
    """Calls ``reactor.listenTCP(*args, **kwargs)`` when started.

    Twisted: ``twisted.application.internet.TCPServer``; a ``reactor=``
    keyword picks the reactor (the global one by default).
    """

    volatile = ["_port"]
    reactor: Any = None
    _port: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        self._port = self._getPort()

    def startService(self) -> None:
        Service.startService(self)
        if self._port is None:
            self._port = self._getPort()

    def stopService(self) -> Any:
        Service.stopService(self)
        if self._port is not None:
            d = self._port.stopListening()
            del self._port
            return d
        return None

    def _getPort(self) -> Any:
        reactor = self.reactor if self.reactor is not None else _globalReactor()
        return reactor.listenTCP(*self.args, **self.kwargs)


class TCPClient(_VolatileDataService):
    """Calls ``reactor.connectTCP(*args, **kwargs)`` when started.

    Twisted: ``twisted.application.internet.TCPClient``; stopping
    disconnects the connector.
    """

    volatile = ["_connection"]
    reactor: Any = None
    _connection: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def startService(self) -> None:
        Service.startService(self)
        reactor = self.reactor if self.reactor is not None else _globalReactor()
        self._connection = reactor.connectTCP(*self.args, **self.kwargs)

    def stopService(self) -> Any:
        Service.stopService(self)
        if self._connection is not None:
            self._connection.disconnect()
            del self._connection
        return None
