"""The Deferred class: a result that is not there yet, with a chain of callbacks.

(The helpers ``succeed``, ``fail``, ``maybeDeferred``, ``ensureDeferred`` are
in :mod:`torsion.internet._defer`, which also re-exports this class.)

Theory of operation
-------------------
A :class:`Deferred` holds a list of ``(callback, errback)`` pairs.  When it
fires, the current result is passed down the list: a pair's callback runs for
a normal result, its errback for a :class:`Failure`.  A callback that raises
(or returns a Failure) switches the chain to the error path; an errback that
returns anything else switches it back.

Rule 1: a callback that returns an unfired Deferred pauses the outer chain
until the inner one fires.  This is done with an explicit stack (``stack``
in :meth:`Deferred._runCallbacks`), never with recursion, so arbitrarily
long chains of Deferreds cannot hit the recursion limit.

Rule 2: a Failure still held when a Deferred is garbage-collected is logged
as "Unhandled error in Deferred:".  The check lives on a small helper object
(:class:`_DebugInfo`) so the Deferred itself has no ``__del__``.

Rule 3: ``await d`` works under torsion's coroutine driver (``ensureDeferred``,
``inlineCallbacks``) and inside an ordinary asyncio Task; see
:mod:`torsion.internet._coroutines`.

Hot paths avoid ``isinstance(x, Deferred)``: Deferred is an ``Awaitable``
(an ABC), so ``isinstance`` is slow; ``type(x) in _DEFERRED_TYPES`` is used
instead, and every subclass registers itself there.
"""

from __future__ import annotations

import asyncio
import traceback
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import CoroutineType, GeneratorType
from typing import Any, Generic, TypeVar

from torsion.internet._deferbase import (
    _CONTINUE,
    _NO_KW,
    _NO_RESULT,
    _PASS,
    AlreadyCalledError,
    CancelledError,
    NotACoroutineError,
    Pair,
    _addTimeout,
    _DebugInfo,
    passthru,
)
from torsion.python.failure import Failure

__all__ = ["Deferred", "getDebugging", "setDebugging"]

_T = TypeVar("_T")


def setDebugging(on: bool) -> None:
    """Record creation and first-invocation stacks of new Deferreds.

    Twisted: ``defer.setDebugging``.  The stacks appear in
    :class:`AlreadyCalledError` messages and unhandled-error reports.
    """
    Deferred.debug = bool(on)


def getDebugging() -> bool:
    """Whether Deferred debugging is on. Twisted: ``defer.getDebugging``."""
    return Deferred.debug


class Deferred(Awaitable[_T], Generic[_T]):
    """A result that will arrive later, with callbacks to run when it does.

    Twisted: ``twisted.internet.defer.Deferred``; same chain semantics.
    Beyond Twisted, ``await d`` also works inside plain asyncio tasks.

    Args:
        canceller: called with the Deferred by :meth:`cancel` while it is
            unfired; if it does not fire the Deferred, it errbacks with
            :class:`CancelledError`.

    Attributes:
        called: True once :meth:`callback` or :meth:`errback` was called.
        paused: how many :meth:`pause` calls are not yet undone (a Deferred
            waiting on another one counts as paused).
        result: the current result (absent before firing).
        debug: class flag set by :func:`setDebugging`.
    """

    called = False
    paused = 0
    debug = False
    _debugInfo: _DebugInfo | None = None
    _suppressAlreadyCalled = False
    _runningCallbacks = False
    _chainedTo: Deferred[Any] | None = None
    result: Any

    def __init__(self, canceller: Callable[[Deferred[Any]], None] | None = None) -> None:
        self._callbacks: list[Pair] = []
        self._canceller = canceller
        if self.debug:
            self._debugInfo = _DebugInfo()
            self._debugInfo.creator = traceback.format_stack()[:-1]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _DEFERRED_TYPES.append(cls)

    @property
    def callbacks(self) -> list[Pair]:
        """The pending ``((cb, args, kw), (eb, args, kw))`` pairs."""
        return self._callbacks

    # -- building the chain ------------------------------------------------

    def addCallbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any] | None = None,
        callbackArgs: tuple[Any, ...] = (),
        callbackKeywords: dict[str, Any] | None = None,
        errbackArgs: tuple[Any, ...] = (),
        errbackKeywords: dict[str, Any] | None = None,
    ) -> Deferred[Any]:
        """Add a callback and an errback as one step of the chain.

        Twisted: ``Deferred.addCallbacks``.

        Returns:
            This Deferred, so calls can be chained.
        """
        self._callbacks.append(
            (
                (callback, callbackArgs or (), callbackKeywords or _NO_KW),
                (errback or passthru, errbackArgs or (), errbackKeywords or _NO_KW),
            )
        )
        if self.called:
            self._runCallbacks()
        return self

    def addCallback(self, callback: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
        """Add a step that runs only on success. Twisted: ``Deferred.addCallback``."""
        self._callbacks.append(((callback, args, kw), _PASS))
        if self.called:
            self._runCallbacks()
        return self

    def addErrback(self, errback: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
        """Add a step that runs only on failure. Twisted: ``Deferred.addErrback``."""
        self._callbacks.append((_PASS, (errback, args, kw)))
        if self.called:
            self._runCallbacks()
        return self

    def addBoth(self, callback: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
        """Add a step that runs on success and on failure. Twisted: ``Deferred.addBoth``."""
        step = (callback, args, kw)
        self._callbacks.append((step, step))
        if self.called:
            self._runCallbacks()
        return self

    def addTimeout(
        self,
        timeout: float,
        clock: Any,
        onTimeoutCancel: Callable[[Any, float], Any] | None = None,
    ) -> Deferred[Any]:
        """Cancel this Deferred if it has not fired after ``timeout`` seconds.

        Twisted: ``Deferred.addTimeout``.  The timeout covers the callbacks
        added before this call.  A cancellation caused by the timeout reaches
        the chain as :class:`TimeoutError`, or as whatever
        ``onTimeoutCancel(result, timeout)`` returns.

        Args:
            timeout: seconds to wait.
            clock: an ``IReactorTime`` (the reactor, or a ``Clock`` in tests).
            onTimeoutCancel: converts the result after a timeout.

        Returns:
            This Deferred.
        """
        _addTimeout(self, timeout, clock, onTimeoutCancel)
        return self

    def chainDeferred(self, d: Deferred[Any]) -> Deferred[None]:
        """Fire ``d`` with this Deferred's result at this point in the chain.

        Twisted: ``Deferred.chainDeferred``.  Unlike a callback returning a
        Deferred, this is recursive: very long ``chainDeferred`` chains can
        exhaust the stack, as in Twisted.
        """
        d._chainedTo = self
        return self.addCallbacks(d.callback, d.errback)

    # -- firing ------------------------------------------------------------

    def callback(self, result: Any) -> None:
        """Fire with a result. Twisted: ``Deferred.callback``.

        A :class:`Failure` given here fires the errback path, as in Twisted.

        Raises:
            AlreadyCalledError: if already fired (unless it was cancelled
                without a canceller, in which case the late call is ignored).
        """
        if self.called or self.debug:
            self._startRunCallbacks(result)
            return
        # The common case of _startRunCallbacks, inlined.
        self.called = True
        self._canceller = None
        self.result = result
        self._runCallbacks()

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """Fire with a failure. Twisted: ``Deferred.errback``.

        Args:
            fail: a Failure, an exception (wrapped in a Failure), or None to
                capture the exception being handled.

        Raises:
            AlreadyCalledError: if already fired (see :meth:`callback`).
            NoCurrentExceptionError: ``fail`` is None outside an ``except``.
        """
        if fail is None:
            fail = Failure(captureVars=self.debug)
        elif not isinstance(fail, Failure):
            fail = Failure(fail)
        self._startRunCallbacks(fail)

    def pause(self) -> None:
        """Stop running callbacks until :meth:`unpause`. Twisted: ``Deferred.pause``."""
        self.paused += 1

    def unpause(self) -> None:
        """Undo one :meth:`pause`. Twisted: ``Deferred.unpause``."""
        self.paused -= 1
        if self.paused:
            return
        if self.called:
            self._runCallbacks()

    def cancel(self) -> None:
        """Cancel the operation this Deferred stands for.

        Twisted: ``Deferred.cancel``.  Unfired: run the canceller, then
        errback with :class:`CancelledError` if still unfired.  Waiting on
        another Deferred: cancel that one.  Fired: do nothing.
        """
        if not self.called:
            canceller = self._canceller
            if canceller is not None:
                canceller(self)
            else:
                # Without a canceller the operation will still complete and
                # fire us; that late call is then swallowed.
                self._suppressAlreadyCalled = True
            if not self.called:
                self.errback(Failure(CancelledError()))
        elif type(self.result) in _DEFERRED_TYPES:
            self.result.cancel()

    def _startRunCallbacks(self, result: Any) -> None:
        if self.called:
            if self._suppressAlreadyCalled:
                self._suppressAlreadyCalled = False
                return
            if self.debug:
                if self._debugInfo is None:
                    self._debugInfo = _DebugInfo()
                raise AlreadyCalledError("\n" + self._debugInfo._getDebugTracebacks())
            raise AlreadyCalledError()
        if self.debug:
            if self._debugInfo is None:
                self._debugInfo = _DebugInfo()
            self._debugInfo.invoker = traceback.format_stack()[:-2]
        self.called = True
        # The canceller is never needed again; dropping it breaks cycles.
        self._canceller = None
        self.result = result
        self._runCallbacks()

    def _runCallbacks(self) -> None:
        if self._runningCallbacks:
            # A callback of ours added more callbacks; the loop below us on
            # the stack will run them.
            return
        current: Deferred[Any] = self
        # Deferreds that handed their result to a waiter (Rule 1) and still
        # have callbacks of their own to run afterwards; allocated on demand.
        stack: list[Deferred[Any]] | None = None
        while True:
            if current.paused:
                # Whoever waits on this one waits longer.
                return
            current._chainedTo = None
            callbacks = current._callbacks
            waiter: Deferred[Any] | None = None
            current._runningCallbacks = True
            try:
                while callbacks:
                    item = callbacks.pop(0)
                    result = current.result
                    callback, args, kw = item[1] if isinstance(result, Failure) else item[0]
                    if callback is passthru and type(result) not in _DEFERRED_TYPES:
                        # (A Deferred result here means unpause() was called
                        # on a Deferred waiting on another: it waits again,
                        # as in Twisted, through the general path below.)
                        continue
                    if callback is _CONTINUE:
                        # ``current`` finished and a Deferred (args[0]) waits
                        # on it: hand the result over and go on with that one.
                        waiter = args[0]
                        waiter.result = result
                        current.result = None
                        if current._debugInfo is not None:
                            current._debugInfo.failResult = None
                        waiter.paused -= 1
                        break
                    try:
                        if args or kw:
                            result = callback(result, *args, **kw)
                        else:
                            result = callback(result)
                        current.result = result
                        if result is current:
                            warnings.warn(
                                f"Callback {callback!r} returned the Deferred it was attached"
                                " to; this breaks the callback chain.",
                                DeprecationWarning,
                                stacklevel=1,
                            )
                    except BaseException:
                        current.result = Failure(captureVars=self.debug)
                        continue
                    if type(result) in _DEFERRED_TYPES:
                        inner = getattr(result, "result", _NO_RESULT)
                        if inner is _NO_RESULT or type(inner) in _DEFERRED_TYPES or result.paused:
                            # Rule 1: wait for the returned Deferred.
                            current.paused += 1
                            current._chainedTo = result
                            step = (_CONTINUE, (current,), _NO_KW)
                            result._callbacks.append((step, step))
                            break
                        # Already has a result: take it and go on.
                        result.result = None
                        if result._debugInfo is not None:
                            result._debugInfo.failResult = None
                        current.result = inner
            finally:
                current._runningCallbacks = False
            if waiter is not None:
                if stack is None:
                    stack = [current]
                else:
                    stack.append(current)
                current = waiter
                continue
            # As much of this chain as can run now has run.
            if isinstance(current.result, Failure):
                if current._debugInfo is None:
                    current._debugInfo = _DebugInfo()
                current._debugInfo.failResult = current.result
            elif current._debugInfo is not None:
                current._debugInfo.failResult = None
            if not stack:
                return
            current = stack.pop()

    # -- presentation --------------------------------------------------------

    def __str__(self) -> str:
        cname = type(self).__name__
        result = getattr(self, "result", _NO_RESULT)
        if self._chainedTo is not None:
            return f"<{cname} at 0x{id(self):x} waiting on Deferred at 0x{id(self._chainedTo):x}>"
        if result is _NO_RESULT:
            return f"<{cname} at 0x{id(self):x}>"
        return f"<{cname} at 0x{id(self):x} current result: {result!r}>"

    __repr__ = __str__

    # -- coroutines and asyncio ---------------------------------------------

    def __await__(self) -> Generator[Any, Any, _T]:
        if self.called and not self.paused:
            # Already fired: no suspension.  As in Twisted, the result stays
            # on the Deferred but a failure no longer counts as unhandled.
            result = self.result
            if isinstance(result, Failure):
                if self._debugInfo is not None:
                    self._debugInfo.failResult = None
                result.raiseException()
            return result  # type: ignore[no-any-return]
        shim = _co._AwaitShim(self)
        sent = yield shim
        # Under torsion's driver the result is sent in; an asyncio Task sends
        # None and the shim holds it.
        result = shim._result
        return sent if result is _NO_RESULT else result  # type: ignore[no-any-return]

    __iter__ = __await__

    def asFuture(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[_T]:
        """An asyncio Future that completes with this Deferred's result.

        Twisted: ``Deferred.asFuture``.  The result is consumed (the chain
        continues with None); cancelling the Future cancels this Deferred.
        """
        return _futures.asFuture(self, loop)

    @classmethod
    def fromFuture(cls, future: asyncio.Future[_T]) -> Deferred[_T]:
        """A Deferred that fires with ``future``'s outcome.

        Twisted: ``Deferred.fromFuture``.  Cancelling the Deferred cancels the
        Future; the Deferred then fires with whatever the Future ends with
        (a Failure of ``asyncio.CancelledError`` when the cancel took effect),
        on a later loop iteration, as in Twisted.
        """
        d: Deferred[_T] = _futures.fromFuture(cls, Deferred, future)
        return d

    @classmethod
    def fromCoroutine(cls, coro: Coroutine[Any, Any, _T] | Generator[Any, Any, _T]) -> Deferred[_T]:
        """Run a coroutine; the Deferred fires with what it returns.

        Twisted: ``Deferred.fromCoroutine``.  Cancelling the Deferred cancels
        what the coroutine awaits; the resulting error is raised inside the
        coroutine, which may handle it.

        Raises:
            NotACoroutineError: if ``coro`` is not a coroutine or generator.
        """
        kind = type(coro)
        if kind is CoroutineType or kind is GeneratorType or asyncio.iscoroutine(coro):
            return _co._start(coro)
        raise NotACoroutineError(f"{coro!r} is not a coroutine")


_DEFERRED_TYPES: list[type[Any]] = [Deferred]


# The coroutine machinery needs Deferred; it is imported last (as a module) so
# that either module can be imported first.
from torsion.internet import _coroutines as _co  # noqa: E402
from torsion.internet import _futures  # noqa: E402
