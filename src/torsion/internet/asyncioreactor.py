"""The reactor: Twisted's IReactor* interfaces on an asyncio event loop.

Design (see docs/design.md): every stream connection is one asyncio
transport driven by a small ``asyncio.Protocol`` (:mod:`torsion.internet.tcp`),
so uvloop's C transports do the I/O.  Timers are ``loop.call_at`` handles.

Write coalescing: while torsion runs protocol code (a *dispatch*: data
received, a timer, a call from a thread, ...), ``transport.write`` only
appends to a per-transport list; when the outermost dispatch returns, every
transport written to is flushed once.  Many small writes thus become one
send, as in Twisted, without an extra loop hop for a single write.

The reactor can own its loop (``run()``) or join one that is already
running, e.g. inside ``asyncio.run()``: it binds to the running loop on
first use and counts as running from then on.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet._loops import lookupIPv4, newEventLoop
from torsion.internet._tls import ReactorSSLMixin
from torsion.internet.base import DelayedCall, ReactorBase, runDelayedCall
from torsion.internet.process import ReactorProcessMixin
from torsion.internet.udp import ReactorUDPMixin
from torsion.internet.unix import ReactorUNIXMixin
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["AsyncioReactor", "install"]


class AsyncioReactor(
    ReactorSSLMixin, ReactorUNIXMixin, ReactorUDPMixin, ReactorProcessMixin, ReactorBase
):
    """A Twisted-style reactor running on an asyncio event loop.

    Twisted: ``twisted.internet.asyncioreactor.AsyncioSelectorReactor`` (but
    bridged at the transport level, not the file-descriptor level).

    Args:
        loop: the event loop to use.  When None, the reactor binds on first
            use to the loop running in the current thread, or creates a new
            one (uvloop when available, see ``TORSION_LOOP``).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._ownLoop = loop is None
        self._loopLock = threading.Lock()
        # False, True, or the Connection whose data_received is running (it
        # flushes its own writes; see _stream.Connection.data_received).
        self._dispatching: Any = False
        self._dirty: list[Any] = []
        self._delayed: dict[DelayedCall, None] = {}
        self._connections: set[Any] = set()
        self._connecting: set[Any] = set()
        self._ports: set[Any] = set()
        self._runCalled = False
        self._joined = False
        self._startupFired = False
        self._installSignalHandlers = False
        self._signals: list[int] = []
        super().__init__()
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)

    # -- the loop ------------------------------------------------------------

    def _getLoop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None:
            return loop
        with self._loopLock:
            if self._loop is None:
                try:
                    self._loop = asyncio.get_running_loop()
                    self._ownLoop = False
                except RuntimeError:
                    self._loop = newEventLoop()
                    self._ownLoop = True
            return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio event loop this reactor runs on."""
        return self._getLoop()

    def _maybeJoin(self) -> None:
        """Start up as a guest if our loop is already running without run()."""
        if self._startupFired or self._runCalled or self._startedBefore:
            return
        loop = self._loop
        if loop is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return
            loop = self._getLoop()
        if not loop.is_running():
            return
        self._startupFired = True
        self._joined = True
        self._started = True
        self._stopped = False
        self.fireSystemEvent("startup")

    @property
    def running(self) -> bool:
        """True between startup and shutdown. Twisted: ``IReactorCore.running``."""
        if not self._running and not self._startupFired:
            self._maybeJoin()
        return self._running

    def _reallyStartRunning(self) -> None:
        self._running = True
        if self._installSignalHandlers:
            self._installHandlers()

    # -- dispatching protocol code -------------------------------------------

    def _dispatch(self, f: Callable[..., Any], *args: Any) -> Any:
        """Run ``f`` as protocol code: writes made inside are coalesced."""
        if self._dispatching:
            return f(*args)
        self._dispatching = True
        try:
            return f(*args)
        finally:
            self._dispatching = False
            if self._dirty:
                self._flushDirty()

    def _flushDirty(self) -> None:
        dirty = self._dirty
        while dirty:
            dirty.pop()._flush()

    # -- IReactorCore ---------------------------------------------------------

    def run(self, installSignalHandlers: bool = True) -> None:
        """Run the event loop until :meth:`stop`. Twisted: ``IReactorCore.run``.

        Args:
            installSignalHandlers: make SIGINT and SIGTERM stop the reactor
                (main thread only).

        Raises:
            ReactorAlreadyRunning: if running (also when the loop was started
                by someone else; then there is no need to call run()).
            ReactorNotRestartable: after a stop().
        """
        loop = self._getLoop()
        if loop.is_running():
            raise error.ReactorAlreadyRunning(
                "the event loop is already running; the reactor works without run()"
            )
        self.startRunning(installSignalHandlers)
        self._startupFired = True
        loop.call_soon(self.fireSystemEvent, "startup")
        try:
            loop.run_forever()
        finally:
            self._afterRun()

    def startRunning(self, installSignalHandlers: bool = True) -> None:
        """Mark the reactor started (used by :meth:`run`)."""
        if self._started:
            raise error.ReactorAlreadyRunning()
        if self._startedBefore:
            raise error.ReactorNotRestartable()
        self._started = True
        self._stopped = False
        self._runCalled = True
        self._installSignalHandlers = bool(installSignalHandlers) and (
            threading.current_thread() is threading.main_thread()
        )

    def _afterRun(self) -> None:
        self._removeHandlers()
        loop = self._loop
        if loop is None or not self._stopped or not self._ownLoop or loop.is_closed():
            return
        # Let transports that were closed during shutdown finish closing.
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        """Stop the reactor; the 'shutdown' event fires on the next iteration.

        Twisted: ``IReactorCore.stop``.

        Raises:
            ReactorNotRunning: if it is not running.
        """
        if self._stopped:
            raise error.ReactorNotRunning("Can't stop reactor that isn't running.")
        self._stopped = True
        self._justStopped = True
        self._startedBefore = True
        self._getLoop().call_soon(self._dispatch, self.fireSystemEvent, "shutdown")

    def crash(self) -> None:
        """End :meth:`run` at once, without the shutdown event.

        Twisted: ``IReactorCore.crash``.
        """
        self._started = False
        self._running = False
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)
        loop = self._loop
        if loop is not None and self._runCalled and loop.is_running():
            loop.stop()

    def iterate(self, delay: float = 0) -> None:
        """Run the loop for about ``delay`` seconds. Twisted: ``IReactorCore.iterate``."""
        loop = self._getLoop()
        loop.call_later(delay, loop.stop)
        loop.run_forever()

    def disconnectAll(self) -> None:
        """Close every connection, attempt and port (run during shutdown)."""
        for client in list(self._connecting):
            client.failIfNotConnected(
                error.ConnectError(string=Failure._withoutTraceback(error.ConnectionLost()))
            )
        for port in list(self._ports):
            port._shutdown()
        for conn in list(self._connections):
            conn._shutdown()

    def _installHandlers(self) -> None:
        loop = self._getLoop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._onSignal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._signals.append(signum)

    def _removeHandlers(self) -> None:
        loop = self._loop
        while self._signals:
            signum = self._signals.pop()
            if loop is not None and not loop.is_closed():
                loop.remove_signal_handler(signum)

    def _onSignal(self, signum: int) -> None:
        log.msg(f"Received {signal.Signals(signum).name}, shutting down.")
        if not self._stopped:
            self.stop()

    # -- IReactorTime ---------------------------------------------------------

    def seconds(self) -> float:
        """The loop's monotonic clock. Twisted: ``IReactorTime.seconds``."""
        loop = self._loop
        if loop is None:
            loop = self._getLoop()
        return loop.time()

    def _timeFunction(self) -> Callable[[], float]:
        """The loop's clock itself: :meth:`seconds` without a Python frame.

        For per-message timestamps in protocol hot paths.
        """
        return self._getLoop().time

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> DelayedCall:
        """Call ``callable(*args, **kw)`` in ``delay`` seconds.

        Twisted: ``IReactorTime.callLater``.

        Returns:
            A :class:`DelayedCall` that can be cancelled, reset or delayed.
        """
        if not delay >= 0:
            raise ValueError(f"{delay} is not greater than or equal to 0 seconds")
        loop = self._loop or self._getLoop()
        when = loop.time() + delay
        call = DelayedCall(when, callable, args, kw, self._cancelCall, self._moveCall, loop.time)
        call._handle = loop.call_at(when, self._runCall, call)
        self._delayed[call] = None
        return call

    def _cancelCall(self, call: DelayedCall) -> None:
        call._handle.cancel()
        self._delayed.pop(call, None)

    def _moveCall(self, call: DelayedCall) -> None:
        call._handle.cancel()
        call._handle = self._getLoop().call_at(call.time, self._runCall, call)

    def _runCall(self, call: DelayedCall) -> None:
        if call.delayed_time:
            call.activate_delay()
            call._handle = self._getLoop().call_at(call.time, self._runCall, call)
            return
        del self._delayed[call]
        call._handle = None
        self._dispatch(runDelayedCall, call)

    def getDelayedCalls(self) -> list[DelayedCall]:
        """Every pending call. Twisted: ``IReactorTime.getDelayedCalls``."""
        return list(self._delayed)

    # -- IReactorThreads -----------------------------------------------------

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """Run ``callable`` in the reactor thread; safe from any thread.

        Twisted: ``IReactorThreads.callFromThread``.
        """
        loop = self._getLoop()
        try:
            loop.call_soon_threadsafe(self._runFromThread, callable, args, kw)
        except RuntimeError:
            if not loop.is_closed():
                raise

    def _runFromThread(
        self, f: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> None:
        try:
            self._dispatch(lambda: f(*args, **kw))
        except Exception:
            log.err(None, f"Unhandled error in callFromThread {f!r}")

    def getThreadPool(self) -> Any:
        self._maybeJoin()
        return super().getThreadPool()

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        self._maybeJoin()
        return super().callWhenRunning(callable, *args, **kw)

    # -- names ---------------------------------------------------------------

    def _resolve(self, name: str) -> Deferred[str]:
        loop = self._getLoop()
        return Deferred.fromFuture(asyncio.ensure_future(lookupIPv4(loop, name), loop=loop))

    # -- IReactorTCP ----------------------------------------------------------

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        """Listen for TCP connections. Twisted: ``IReactorTCP.listenTCP``.

        Args:
            port: the port number (0 for an ephemeral port).
            factory: builds a protocol per connection.
            backlog: the listen queue size.
            interface: the local address; '' means all IPv4 interfaces; an
                IPv6 literal selects IPv6.

        Returns:
            A :class:`torsion.internet.tcp.Port`.

        Raises:
            CannotListenError: at once, if binding fails.
        """
        from torsion.internet import tcp

        p = tcp.Port(port, factory, backlog, interface, self)
        p.startListening()
        return p

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Any:
        """Connect to a TCP server. Twisted: ``IReactorTCP.connectTCP``.

        Returns:
            A :class:`torsion.internet.tcp.Connector`, already connecting.
        """
        from torsion.internet import tcp

        c = tcp.Connector(host, port, factory, timeout, bindAddress, self)
        c.connect()
        return c

    def __repr__(self) -> str:
        loop = self._loop
        kind = "unbound" if loop is None else type(loop).__module__.split(".")[0]
        return f"<{type(self).__name__} {kind} running={self._running}>"


def install(loop: asyncio.AbstractEventLoop | None = None) -> AsyncioReactor:
    """Create an :class:`AsyncioReactor` on ``loop`` and make it the global reactor.

    Twisted: ``twisted.internet.asyncioreactor.install``.

    Raises:
        ReactorAlreadyInstalledError: if a global reactor exists already.
    """
    from torsion.internet.main import installReactor

    reactor = AsyncioReactor(loop)
    installReactor(reactor)
    return reactor
