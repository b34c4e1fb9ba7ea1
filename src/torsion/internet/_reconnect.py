"""``ReconnectingClientFactory``: reconnect with exponential back-off and jitter.

Twisted: ``twisted.internet.protocol.ReconnectingClientFactory``, as of
Twisted 26.4 (where the first retry waits ``initialDelay``, twisted#12478).

The retry schedule, for each failed or lost connection while
``continueTrying``:

1. ``retries += 1``; past ``maxRetries``, give up (logged);
2. if ``jitter``: ``delay = random.normalvariate(delay, delay * jitter)``;
3. log ``"<connector> will retry in <int> seconds"`` and call
   ``connector.connect()`` after ``delay`` seconds on ``clock``;
4. ``delay = min(delay * factor, maxDelay)`` for the next time.

So the cap comes before the jitter of the next retry, and a wait can
exceed ``maxDelay`` by the jitter.  ``random`` is the module-level
generator, so ``random.seed(n)`` reproduces a schedule exactly.

One deliberate difference (twisted/twisted#5103): in Twisted ``delay`` is
bound to ``initialDelay`` when the class body runs, so a subclass or
instance that sets its own ``initialDelay`` waits the base class's 1 s until
``resetDelay()`` is called.  Here ``delay`` reads ``initialDelay`` until it
is first assigned, so the configured initial delay is used from the start.
"""

from __future__ import annotations

import random
from typing import Any, overload

from torsion.internet import error
from torsion.internet.protocol import ClientFactory
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["ReconnectingClientFactory"]


class _CurrentDelay:
    """``delay``: the instance's own value once assigned, else ``initialDelay``.

    The value is kept in the instance ``__dict__`` under ``'delay'``, so
    ``__getstate__`` and ``vars()`` look as in Twisted.  A subclass that
    assigns ``delay`` in its class body (the usual workaround for #5103)
    replaces this descriptor and keeps working.
    """

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> float: ...
    @overload
    def __get__(self, obj: object, owner: type[Any] | None = None) -> float: ...
    def __get__(self, obj: object | None, owner: type[Any] | None = None) -> float:
        if obj is None:
            return float(getattr(owner, "initialDelay"))  # noqa: B009
        try:
            return float(obj.__dict__["delay"])
        except KeyError:
            return float(getattr(obj, "initialDelay"))  # noqa: B009

    def __set__(self, obj: object, value: float) -> None:
        obj.__dict__["delay"] = value

    def __delete__(self, obj: object) -> None:
        obj.__dict__.pop("delay", None)


class ReconnectingClientFactory(ClientFactory):
    """A client factory that reconnects after failures, waiting longer each time.

    Twisted: ``twisted.internet.protocol.ReconnectingClientFactory``.  Call
    :meth:`resetDelay` once a connection succeeds (e.g. in ``buildProtocol``
    or the protocol's ``connectionMade``); it is not done automatically.

    Attributes:
        maxDelay: the largest wait before jitter, in seconds (3600).
        initialDelay: the first wait before jitter (1.0).
        factor: how much the wait grows per retry (e).
        jitter: the standard deviation of the wait, as a fraction of it.
        delay: the wait the next retry will use (before jitter).
        retries: failed attempts since the last :meth:`resetDelay`.
        maxRetries: give up after this many retries (None: never).
        continueTrying: false after :meth:`stopTrying`.
        connector: the connector being retried.
        clock: schedules the retries; the global reactor when None.
    """

    maxDelay: float = 3600
    initialDelay: float = 1.0
    factor: float = 2.7182818284590451  # e, as Twisted writes it
    jitter: float | None = 0.119626565582

    delay = _CurrentDelay()
    retries = 0
    maxRetries: int | None = None
    _callID: Any = None
    connector: Any = None
    clock: Any = None

    continueTrying = 1

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Retry, unless stopped. Twisted: ``clientConnectionFailed``."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def clientConnectionLost(self, connector: Any, unused_reason: Failure) -> None:
        """Retry, unless stopped. Twisted: ``clientConnectionLost``."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def retry(self, connector: Any = None) -> None:
        """Schedule ``connector.connect()`` after the current delay.

        Twisted: ``ReconnectingClientFactory.retry``.

        Args:
            connector: the connector to use; defaults to :attr:`connector`.

        Raises:
            ValueError: there is no connector to retry.
        """
        if not self.continueTrying:
            if self.noisy:
                log.msg(f"Abandoning {connector} on explicit request")
            return

        if connector is None:
            if self.connector is None:
                raise ValueError("no connector to retry")
            connector = self.connector

        self.retries += 1
        if self.maxRetries is not None and self.retries > self.maxRetries:
            if self.noisy:
                log.msg("Abandoning %s after %d retries." % (connector, self.retries))  # noqa: UP031
            return

        delay = self.delay
        if self.jitter:
            delay = random.normalvariate(delay, delay * self.jitter)
        self.delay = delay

        if self.noisy:
            log.msg("%s will retry in %d seconds" % (connector, delay))  # noqa: UP031

        def reconnector() -> None:
            self._callID = None
            connector.connect()

        if self.clock is None:
            from torsion.internet import reactor

            self.clock = reactor
        self._callID = self.clock.callLater(delay, reconnector)

        self.delay = min(delay * self.factor, self.maxDelay)

    def stopTrying(self) -> None:
        """Cancel the pending retry and stop any attempt in progress.

        Twisted: ``ReconnectingClientFactory.stopTrying``.  An established
        connection stays open, but is not retried when it is lost.
        """
        if self._callID is not None:
            self._callID.cancel()
            self._callID = None
        self.continueTrying = 0
        if self.connector is not None:
            try:
                self.connector.stopConnecting()
            except error.NotConnectingError:
                pass

    def resetDelay(self) -> None:
        """Start the back-off afresh and re-enable retrying.

        Twisted: ``ReconnectingClientFactory.resetDelay``; call it after a
        successful connection.
        """
        self.delay = self.initialDelay
        self.retries = 0
        self._callID = None
        self.continueTrying = 1

    def __getstate__(self) -> dict[str, Any]:
        """The configuration only: no connector, counters, pending call or clock.

        Twisted: ``ReconnectingClientFactory.__getstate__``; an unpickled
        factory behaves as a new one.
        """
        state = self.__dict__.copy()
        for key in ("connector", "retries", "delay", "continueTrying", "_callID", "clock"):
            state.pop(key, None)
        return state
