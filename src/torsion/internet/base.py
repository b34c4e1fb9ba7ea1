"""Reactor machinery that does not depend on the event loop.

* :class:`DelayedCall` -- the handle ``callLater`` returns, shared by the
  real reactor and the fake :class:`torsion.internet.task.Clock`.
* :class:`_ThreePhaseEvent` -- Twisted's 'before' / 'during' / 'after'
  system-event triggers, where Deferreds returned by 'before' triggers delay
  the other two phases.
* :class:`ReactorBase` -- system events, ``callWhenRunning``, the thread
  pool and ``resolve``, on top of which the asyncio reactor adds the loop.
"""

from __future__ import annotations

import builtins
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred, succeed
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["DelayedCall", "ReactorBase"]

_PHASES = ("before", "during", "after")

TriggerID = tuple[str, str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


class DelayedCall:
    """A call scheduled by ``callLater``.

    Twisted: ``twisted.internet.base.DelayedCall``.  Moving the call later
    with :meth:`reset` or :meth:`delay` is lazy: the timer still fires at the
    old time and then re-arms itself, which keeps frequently reset timeouts
    cheap.

    Attributes:
        time: when the call is due, in the clock's ``seconds()`` base.
        func, args, kw: what will be called.
        called, cancelled: 1 once the call ran / was cancelled.
    """

    debug = False

    def __init__(
        self,
        time: float,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        cancel: Callable[[DelayedCall], object],
        reset: Callable[[DelayedCall], object],
        seconds: Callable[[], float],
    ) -> None:
        self.time = time
        self.func = func
        self.args = args
        self.kw = kw
        self.canceller = cancel
        self.resetter = reset
        self.seconds = seconds
        self.cancelled = 0
        self.called = 0
        self.delayed_time = 0.0
        self._handle: Any = None

    def getTime(self) -> float:
        """When the call will run. Twisted: ``DelayedCall.getTime``."""
        return self.time + self.delayed_time

    def cancel(self) -> None:
        """Unschedule the call. Twisted: ``DelayedCall.cancel``.

        Raises:
            AlreadyCancelled: if it was cancelled before.
            AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        self.canceller(self)
        self.cancelled = 1
        # Drop references so a cancelled call does not keep objects alive.
        del self.func, self.args, self.kw

    def reset(self, secondsFromNow: float) -> None:
        """Make the call run ``secondsFromNow`` seconds from now.

        Twisted: ``DelayedCall.reset``.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        newTime = self.seconds() + secondsFromNow
        if newTime < self.time:
            self.delayed_time = 0.0
            self.time = newTime
            self.resetter(self)
        else:
            self.delayed_time = newTime - self.time

    def delay(self, secondsLater: float) -> None:
        """Move the call ``secondsLater`` seconds (may be negative).

        Twisted: ``DelayedCall.delay``.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        self.delayed_time += secondsLater
        if self.delayed_time < 0:
            self.activate_delay()
            self.resetter(self)

    def activate_delay(self) -> None:
        """Fold a pending lazy delay into ``time``."""
        self.time += self.delayed_time
        self.delayed_time = 0.0

    def active(self) -> bool:
        """True until the call runs or is cancelled. Twisted: ``DelayedCall.active``."""
        return not (self.cancelled or self.called)

    def __lt__(self, other: DelayedCall) -> bool:
        return self.getTime() < other.getTime()

    def __le__(self, other: DelayedCall) -> bool:
        return self.getTime() <= other.getTime()

    def __repr__(self) -> str:
        func = getattr(self, "func", None)
        name = getattr(func, "__qualname__", None) or repr(func)
        try:
            now = self.seconds()
            when = f"{self.getTime() - now:.3f}s"
        except Exception:
            when = f"at {self.getTime():.3f}"
        parts = [f"<DelayedCall 0x{id(self):x} [{when}] called={self.called}"]
        parts.append(f" cancelled={self.cancelled}")
        if func is not None:
            args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kw.items()]
            parts.append(f" {name}({', '.join(args)})")
        return "".join(parts) + ">"


def runDelayedCall(call: DelayedCall) -> None:
    """Run ``call`` now, logging what it raises (shared by reactors and Clock)."""
    call.called = 1
    try:
        call.func(*call.args, **call.kw)
    except Exception:
        log.err(None, f"Unhandled error in DelayedCall {call.func!r}")


class _ThreePhaseEvent:
    """Triggers for one system event type, run phase by phase."""

    def __init__(self) -> None:
        self.triggers: dict[str, list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]]
        self.triggers = {phase: [] for phase in _PHASES}
        self.state = "BASE"
        self.finishedBefore: list[Any] = []

    def addTrigger(
        self, phase: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> tuple[str, Any]:
        if phase not in _PHASES:
            raise KeyError("invalid phase")
        trigger = (callable, args, kw)
        self.triggers[phase].append(trigger)
        return phase, trigger

    def removeTrigger(self, handle: tuple[str, Any]) -> None:
        phase, trigger = handle
        if phase not in _PHASES:
            raise KeyError("invalid phase")
        if self.state == "BEFORE" and phase == "before" and trigger in self.finishedBefore:
            self.finishedBefore.remove(trigger)
            return
        try:
            self.triggers[phase].remove(trigger)
        except ValueError:
            raise ValueError("invalid trigger") from None

    def fireEvent(self) -> None:
        self.state = "BEFORE"
        self.finishedBefore = []
        waiting: list[Deferred[Any]] = []
        before = self.triggers["before"]
        while before:
            trigger = before.pop(0)
            self.finishedBefore.append(trigger)
            callable, args, kw = trigger
            try:
                result = callable(*args, **kw)
            except Exception:
                log.err()
            else:
                if isinstance(result, Deferred):
                    waiting.append(result)
        if not waiting:
            self._continueFiring()
            return
        remaining = [len(waiting)]

        def oneDone(result: Any) -> None:
            if isinstance(result, Failure):
                log.err(result)
            remaining[0] -= 1
            if remaining[0] == 0:
                self._continueFiring()

        for d in waiting:
            d.addBoth(oneDone)

    def _continueFiring(self) -> None:
        self.state = "BASE"
        self.finishedBefore = []
        for phase in ("during", "after"):
            triggers = self.triggers[phase]
            while triggers:
                callable, args, kw = triggers.pop(0)
                try:
                    callable(*args, **kw)
                except Exception:
                    log.err()


class ReactorBase:
    """System events, ``callWhenRunning``, threads and name resolution.

    Subclasses provide the loop: ``run``, ``stop``, ``callLater``,
    ``callFromThread`` and the transports.
    """

    def __init__(self) -> None:
        self._eventTriggers: dict[str, _ThreePhaseEvent] = {}
        self._started = False
        self._stopped = True
        self._startedBefore = False
        self._justStopped = False
        self._running = False
        self.threadpool: Any = None
        self._threadpoolStartupID: Any = None
        self.threadpoolShutdownID: Any = None
        self.addSystemEventTrigger("during", "shutdown", self.crash)
        self.addSystemEventTrigger("during", "shutdown", self.disconnectAll)

    # -- to be provided by subclasses --------------------------------------

    def crash(self) -> None:
        raise NotImplementedError

    def disconnectAll(self) -> None:
        raise NotImplementedError

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True between startup and shutdown. Twisted: ``IReactorCore.running``."""
        return self._running

    # -- system events -------------------------------------------------------

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> TriggerID:
        """Call ``callable`` when ``eventType`` fires, in ``phase``.

        Twisted: ``IReactorCore.addSystemEventTrigger``.

        Args:
            phase: ``'before'``, ``'during'`` or ``'after'``; a 'before'
                trigger may return a Deferred that delays the later phases.
            eventType: any string; the reactor fires ``'startup'`` and
                ``'shutdown'``.

        Returns:
            An ID for :meth:`removeSystemEventTrigger`.

        Raises:
            KeyError: for an unknown phase.
        """
        assert builtins.callable(callable), f"{callable!r} is not callable"
        event = self._eventTriggers.get(eventType)
        if event is None:
            event = self._eventTriggers[eventType] = _ThreePhaseEvent()
        phase_, trigger = event.addTrigger(phase, callable, *args, **kw)
        return (eventType, phase_, trigger)

    def removeSystemEventTrigger(self, triggerID: TriggerID) -> None:
        """Remove a trigger. Twisted: ``IReactorCore.removeSystemEventTrigger``.

        Raises:
            ValueError: if the ID is not a live trigger.
        """
        try:
            eventType, phase, trigger = triggerID
        except (TypeError, ValueError):
            raise ValueError("invalid trigger") from None
        event = self._eventTriggers.get(eventType)
        if event is None:
            raise ValueError("invalid trigger")
        event.removeTrigger((phase, trigger))

    def fireSystemEvent(self, eventType: str) -> None:
        """Run the triggers for ``eventType``. Twisted: ``IReactorCore.fireSystemEvent``."""
        event = self._eventTriggers.get(eventType)
        if event is not None:
            event.fireEvent()

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call now if running, else once the reactor starts.

        Twisted: ``IReactorCore.callWhenRunning``.

        Returns:
            None if called at once, else a trigger ID.
        """
        if self.running:
            callable(*args, **kw)
            return None
        return self.addSystemEventTrigger("after", "startup", callable, *args, **kw)

    # -- threads -----------------------------------------------------------

    def _initThreadPool(self) -> None:
        from torsion.python.threadpool import ThreadPool

        self.threadpool = ThreadPool(0, 10, "torsion.internet.reactor")
        self._threadpoolStartupID = self.callWhenRunning(self.threadpool.start)
        self.threadpoolShutdownID = self.addSystemEventTrigger(
            "during", "shutdown", self._stopThreadPool
        )

    def _stopThreadPool(self) -> None:
        self._threadpoolStartupID = None
        self.threadpoolShutdownID = None
        if self.threadpool is not None:
            self.threadpool.stop()
            self.threadpool = None

    def getThreadPool(self) -> Any:
        """The reactor's thread pool, created on first use.

        Twisted: ``IReactorThreads.getThreadPool``.  It starts when the reactor
        runs and stops during shutdown.
        """
        if self.threadpool is None:
            self._initThreadPool()
        return self.threadpool

    def callInThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """Run ``callable`` in the thread pool. Twisted: ``IReactorThreads.callInThread``."""
        self.getThreadPool().callInThread(callable, *args, **kw)

    def suggestThreadPoolSize(self, size: int) -> None:
        """Set the pool's maximum size. Twisted: ``suggestThreadPoolSize``."""
        self.getThreadPool().adjustPoolsize(maxthreads=size)

    # -- names ---------------------------------------------------------------

    def resolve(self, name: str, timeout: Any = (1, 3, 11, 45)) -> Deferred[str]:
        """Resolve ``name`` to an IPv4 address string.

        Twisted: ``IReactorCore.resolve``.  ``''`` gives ``'0.0.0.0'`` and an
        IPv4 literal is returned unchanged; failures are ``DNSLookupError``.
        """
        if not name:
            return succeed("0.0.0.0")
        if isIPv4Address(name):
            return succeed(name)
        return self._resolve(name)

    def _resolve(self, name: str) -> Deferred[str]:
        d: Deferred[str] = Deferred()

        def lookup() -> None:
            try:
                result = socket.gethostbyname(name)
            except OSError as e:
                self.callFromThread(
                    d.errback, error.DNSLookupError(f"address {name!r} not found: {e}")
                )
            else:
                self.callFromThread(d.callback, result)

        threading.Thread(target=lookup, name="torsion-resolve", daemon=True).start()
        return d


def isIPv4Address(text: str) -> bool:
    """True when ``text`` is a dotted-quad IPv4 literal."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def isIPv6Address(text: str) -> bool:
    """True when ``text`` is an IPv6 literal (an optional ``%scope`` allowed)."""
    try:
        ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return False
    return "%" not in text or bool(text.split("%", 1)[1])


def secondsFunction(clock: Any) -> Callable[[], float]:
    """``clock.seconds``, or the event loop's own clock when ``clock`` offers it.

    Same values; the loop's ``time`` costs no Python frame, for timestamps
    taken on every message.  Any other clock (``task.Clock``, a test double)
    is used as it is.
    """
    fast = getattr(clock, "_timeFunction", None)
    return fast() if fast is not None else clock.seconds  # type: ignore[no-any-return]
