"""``LoopingCall``: call a function every ``interval`` seconds.

Calls land on interval boundaries measured from the start time: if a call
(or the Deferred it returned) overran one or more boundaries, those calls are
skipped and the next one runs at the next boundary.  ``withCount`` reports
how many boundaries passed since the previous call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import CoroutineType
from typing import Any

from torsion.internet._defer import Deferred, ensureDeferred
from torsion.internet._deferred import _DEFERRED_TYPES
from torsion.python.failure import Failure

__all__ = ["LoopingCall"]


def _callableName(f: object) -> str:
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", None)
    if name is not None:
        return str(name)
    try:
        return repr(f)
    except Exception:
        return f"<unrepresentable {type(f).__name__}>"


class LoopingCall:
    """Call ``f(*a, **kw)`` repeatedly. Twisted: ``task.LoopingCall``.

    If ``f`` returns a Deferred, the next call is scheduled only once it has
    fired; its result is ignored.

    Attributes:
        f, a, kw: what is called.
        clock: the ``IReactorTime`` used (the global reactor unless set,
            looked up on first use).
        running: True from :meth:`start` until :meth:`stop` or a failure.
        interval: seconds between calls, once started.
        starttime: the clock time the intervals are measured from.
        call: the pending ``DelayedCall``, or None while ``f`` runs.
    """

    call: Any = None
    running = False
    interval: float | None = None
    starttime: float | None = None
    _deferred: Deferred[LoopingCall] | None = None
    _runAtStart = False
    _realLastTime: float | None = None
    _clock: Any = None

    def __init__(self, f: Callable[..., object], *a: Any, **kw: Any) -> None:
        self.f = f
        self.a = a
        self.kw = kw

    @property
    def clock(self) -> Any:
        """The ``IReactorTime`` used for scheduling."""
        if self._clock is None:
            from torsion.internet.main import getGlobalReactor

            self._clock = getGlobalReactor()
        return self._clock

    @clock.setter
    def clock(self, clock: Any) -> None:
        self._clock = clock

    @property
    def deferred(self) -> Deferred[LoopingCall] | None:
        """Deprecated (as in Twisted): use the Deferred :meth:`start` returns."""
        warnings.warn(
            "LoopingCall.deferred is deprecated; use the Deferred returned by start()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._deferred

    @classmethod
    def withCount(cls, countCallable: Callable[[int], object]) -> LoopingCall:
        """A LoopingCall that passes how many intervals passed since the last call.

        Twisted: ``LoopingCall.withCount``.  The count is normally 1; it is
        larger when calls were skipped because the clock was late or a
        previous call (or its Deferred) took longer than an interval.  With
        an interval of 0 it is always 1.
        """

        def counter() -> object:
            now = self.clock.seconds()
            if self.interval == 0:
                self._realLastTime = now
                return countCallable(1)
            lastTime = self._realLastTime
            if lastTime is None:
                assert self.starttime is not None, "LoopingCall called before it was started"
                lastTime = self.starttime
                if self._runAtStart:
                    assert self.interval is not None
                    lastTime -= self.interval
            count = self._intervalOf(now) - self._intervalOf(lastTime)
            if count > 0:
                self._realLastTime = now
                return countCallable(count)
            return None

        self = cls(counter)
        return self

    def _intervalOf(self, t: float) -> int:
        assert self.starttime is not None and self.interval is not None
        return int((t - self.starttime) / self.interval)

    def start(self, interval: float, now: bool = True) -> Deferred[LoopingCall]:
        """Start calling every ``interval`` seconds.

        Twisted: ``LoopingCall.start``.

        Args:
            interval: seconds between calls; 0 means as often as possible.
            now: make the first call at once rather than after ``interval``.

        Returns:
            A Deferred that fires with this LoopingCall after :meth:`stop`,
            or fails with the error of ``f`` (raised, or from the Deferred
            it returned); :attr:`running` is False by then.

        Raises:
            ValueError: if ``interval`` is negative.
        """
        assert not self.running, "Tried to start an already running LoopingCall."
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.running = True
        # A failing first call clears self._deferred; keep our own reference.
        deferred = self._deferred = Deferred()
        self.starttime = self.clock.seconds()
        self.interval = interval
        self._runAtStart = now
        if now:
            self()
        else:
            self._scheduleFrom(self.starttime)
        return deferred

    def stop(self) -> None:
        """Stop calling. Twisted: ``LoopingCall.stop``.

        If ``f``'s Deferred is pending, the loop ends when it fires.
        """
        assert self.running, "Tried to stop a LoopingCall that was not running."
        self.running = False
        if self.call is not None:
            self.call.cancel()
            self.call = None
            d, self._deferred = self._deferred, None
            assert d is not None
            d.callback(self)

    def reset(self) -> None:
        """Skip the pending call and measure intervals from now.

        Twisted: ``LoopingCall.reset``.
        """
        assert self.running, "Tried to reset a LoopingCall that was not running."
        if self.call is not None:
            self.call.cancel()
            self.call = None
            self.starttime = self.clock.seconds()
            self._scheduleFrom(self.starttime)

    def __call__(self) -> None:
        self.call = None
        # What maybeDeferred(f) followed by addCallback(succeeded) and
        # addErrback(failed) does, without making a Deferred when f returns
        # a plain value (the common case).
        try:
            result: Any = self.f(*self.a, **self.kw)
        except BaseException:
            self._failed(Failure(captureVars=Deferred.debug))
            return
        kind = type(result)
        if kind in _DEFERRED_TYPES or kind is CoroutineType:
            d: Deferred[Any] = result if kind in _DEFERRED_TYPES else ensureDeferred(result)
            d.addCallback(self._succeeded)
            d.addErrback(self._failed)
        elif isinstance(result, Failure):
            self._failed(result)
        else:
            try:
                self._succeeded(result)
            except BaseException:
                self._failed(Failure(captureVars=Deferred.debug))

    def _succeeded(self, result: object) -> None:
        if self.running:
            self._scheduleFrom(self.clock.seconds())
        else:
            d, self._deferred = self._deferred, None
            assert d is not None
            d.callback(self)

    def _failed(self, failure: Failure) -> None:
        self.running = False
        d, self._deferred = self._deferred, None
        assert d is not None
        d.errback(failure)

    def _scheduleFrom(self, when: float) -> None:
        self.call = self.clock.callLater(self._delayFrom(when), self)

    def _delayFrom(self, when: float) -> float:
        interval = self.interval
        assert interval is not None and self.starttime is not None
        if interval == 0:
            return 0
        untilNext = interval - ((when - self.starttime) % interval)
        if when == when + untilNext:
            # Too small to move the clock: it is already the next boundary.
            return interval
        return untilNext

    def __repr__(self) -> str:
        return (
            f"LoopingCall<{self.interval!r}>({_callableName(self.f)}, *{self.a!r}, **{self.kw!r})"
        )
