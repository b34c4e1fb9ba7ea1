"""The Deferred: a result that is not there yet, with a chain of callbacks.

Theory of operation
-------------------
A :class:`Deferred` holds a list of ``(callback, errback)`` pairs.  When it
fires, the current result is passed down the list: a pair's callback runs for
a normal result, its errback for a :class:`Failure`.  A callback that raises
(or returns a Failure) switches the chain to the error path; an errback that
returns anything else switches it back.

Rule 1: a callback that returns an unfired Deferred pauses the outer chain
until the inner one fires.  This is done with an explicit stack (``chain``
in :meth:`Deferred._runCallbacks`), never with recursion, so arbitrarily
long chains of Deferreds cannot hit the recursion limit.

Rule 2: a Failure still held when a Deferred is garbage-collected is logged
as "Unhandled error in Deferred:".  The check lives on a small helper object
(:class:`_DebugInfo`) so the Deferred itself has no ``__del__``.

Rule 3: ``await d`` works both under torsion's coroutine driver
(:func:`ensureDeferred`, ``inlineCallbacks``) and inside an ordinary asyncio
Task.  ``__await__`` yields an :class:`_AwaitShim`, an object that asyncio's
Task accepts as a future (it has ``_asyncio_future_blocking``,
``add_done_callback``, ``get_loop``, ``cancel`` and ``result``) and that the
torsion driver unwraps to the Deferred, so no event loop is needed when
nothing real is waited for.
"""

from __future__ import annotations

import asyncio
import contextvars
import traceback
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar, cast, overload

from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "getDebugging",
    "maybeDeferred",
    "passthru",
    "setDebugging",
    "succeed",
]

_T = TypeVar("_T")

_NO_KW: dict[str, Any] = {}


class AlreadyCalledError(Exception):
    """A Deferred was fired twice. Twisted: ``defer.AlreadyCalledError``."""


class CancelledError(Exception):
    """A Deferred was cancelled. Twisted: ``defer.CancelledError``."""


class TimeoutError(Exception):
    """A Deferred did not fire before its timeout. Twisted: ``defer.TimeoutError``."""


def passthru(arg: _T) -> _T:
    """Return ``arg`` unchanged: the default errback and callback."""
    return arg


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_NO_RESULT = _Sentinel("NO_RESULT")
_CONTINUE = _Sentinel("CONTINUE")


class _DebugInfo:
    """Holds what is needed to report an unhandled failure at collection."""

    __slots__ = ("creator", "failResult", "invoker")

    def __init__(self) -> None:
        self.failResult: Failure | None = None
        self.creator: list[str] | None = None
        self.invoker: list[str] | None = None

    def _tracebacks(self) -> str:
        parts = []
        if self.creator is not None:
            parts.append(" C: Deferred was created:\n C:" + "".join(self.creator).rstrip())
        if self.invoker is not None:
            parts.append(" I: First Invoker was:\n I:" + "".join(self.invoker).rstrip())
        return "\n".join(parts)

    def __del__(self) -> None:
        failure = self.failResult
        if failure is not None:
            extra = self._tracebacks()
            log.err(failure, "Unhandled error in Deferred:" + ("\n" + extra if extra else ""))


_debugging = False


def setDebugging(on: bool) -> None:
    """Record creation and first-invocation stacks of Deferreds.

    Twisted: ``defer.setDebugging``.
    """
    global _debugging
    Deferred.debug = _debugging = bool(on)


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
        self._callbacks: list[tuple[tuple[Any, tuple[Any, ...], dict[str, Any]], ...]] = []
        self._canceller = canceller
        if self.debug:
            self._debugInfo = _DebugInfo()
            self._debugInfo.creator = traceback.format_stack()[:-1]

    @property
    def callbacks(self) -> list[tuple[tuple[Any, tuple[Any, ...], dict[str, Any]], ...]]:
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
        if errback is None:
            errback = passthru
        self._callbacks.append(
            (
                (callback, callbackArgs, callbackKeywords or _NO_KW),
                (errback, errbackArgs, errbackKeywords or _NO_KW),
            )
        )
        if self.called:
            self._runCallbacks()
        return self

    def addCallback(self, callback: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
        """Add a step that runs only on success. Twisted: ``Deferred.addCallback``."""
        self._callbacks.append(((callback, args, kw), (passthru, (), _NO_KW)))
        if self.called:
            self._runCallbacks()
        return self

    def addErrback(self, errback: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
        """Add a step that runs only on failure. Twisted: ``Deferred.addErrback``."""
        self._callbacks.append(((passthru, (), _NO_KW), (errback, args, kw)))
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
    ) -> Deferred[_T]:
        """Cancel this Deferred if it has not fired after ``timeout`` seconds.

        Twisted: ``Deferred.addTimeout``.  A cancellation caused by the timeout
        reaches the chain as :class:`TimeoutError` (or whatever
        ``onTimeoutCancel(result, timeout)`` returns).
        """
        timedOut = [False]

        def timeItOut() -> None:
            timedOut[0] = True
            self.cancel()

        delayedCall = clock.callLater(timeout, timeItOut)

        def convertCancelled(result: Any) -> Any:
            if timedOut[0]:
                handler = onTimeoutCancel or _cancelledToTimedOutError
                return handler(result, timeout)
            return result

        def cancelTimeout(result: Any) -> Any:
            if delayedCall.active():
                delayedCall.cancel()
            return result

        self.addBoth(convertCancelled)
        self.addBoth(cancelTimeout)
        return self

    def chainDeferred(self, d: Deferred[Any]) -> Deferred[None]:
        """Fire ``d`` with this Deferred's result at this point in the chain.

        Twisted: ``Deferred.chainDeferred``.
        """
        d._chainedTo = self
        return self.addCallbacks(d.callback, d.errback)

    # -- firing ------------------------------------------------------------

    def callback(self, result: Any) -> None:
        """Fire with a successful result. Twisted: ``Deferred.callback``.

        Raises:
            AlreadyCalledError: if already fired (unless it was cancelled
                without a canceller, in which case the late call is ignored).
        """
        assert not isinstance(result, Deferred), "callback() with a Deferred is not allowed"
        self._startRunCallbacks(result)

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """Fire with a failure. Twisted: ``Deferred.errback``.

        Args:
            fail: a Failure, an exception (wrapped in a Failure), or None to
                capture the exception being handled.
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
        another Deferred: cancel that one.
        """
        if not self.called:
            canceller = self._canceller
            if canceller is not None:
                canceller(self)
            else:
                self._suppressAlreadyCalled = True
            if not self.called:
                self.errback(Failure(CancelledError()))
        elif isinstance(self.result, Deferred):
            self.result.cancel()

    def _startRunCallbacks(self, result: Any) -> None:
        if self.called:
            if self._suppressAlreadyCalled:
                self._suppressAlreadyCalled = False
                return
            if self.debug and self._debugInfo is not None:
                raise AlreadyCalledError("\n" + self._debugInfo._tracebacks())
            raise AlreadyCalledError()
        if self.debug:
            if self._debugInfo is None:
                self._debugInfo = _DebugInfo()
            self._debugInfo.invoker = traceback.format_stack()[:-2]
        self.called = True
        self._canceller = None
        self.result = result
        self._runCallbacks()

    def _runCallbacks(self) -> None:
        if self._runningCallbacks:
            # A callback of ours added more callbacks; the loop below us on
            # the stack will run them.
            return
        chain: list[Deferred[Any]] = [self]
        while chain:
            current = chain[-1]
            if current.paused:
                return
            finished = True
            current._chainedTo = None
            callbacks = current._callbacks
            while callbacks:
                item = callbacks.pop(0)
                isFailure = isinstance(current.result, Failure)
                callback, args, kw = item[1] if isFailure else item[0]
                if callback is _CONTINUE:
                    chainee: Deferred[Any] = args[0]
                    chainee.result = current.result
                    current.result = None
                    if current._debugInfo is not None:
                        current._debugInfo.failResult = None
                    chainee.paused -= 1
                    chain.append(chainee)
                    finished = False
                    break
                if callback is passthru:
                    continue
                current._runningCallbacks = True
                try:
                    current.result = callback(current.result, *args, **kw)
                except BaseException:
                    current.result = Failure(captureVars=self.debug)
                else:
                    result = current.result
                    if isinstance(result, Deferred):
                        if result is current:
                            warnings.warn(
                                "Callback returned the Deferred it was attached to; "
                                "this breaks the callback chain.",
                                DeprecationWarning,
                                stacklevel=2,
                            )
                        inner = getattr(result, "result", _NO_RESULT)
                        if inner is _NO_RESULT or isinstance(inner, Deferred) or result.paused:
                            # Rule 1: wait for the inner Deferred.
                            current.paused += 1
                            current._chainedTo = result
                            cont = (_CONTINUE, (current,), _NO_KW)
                            result._callbacks.append((cont, cont))
                            break
                        result.result = None
                        if result._debugInfo is not None:
                            result._debugInfo.failResult = None
                        current.result = inner
                finally:
                    current._runningCallbacks = False
            if finished:
                if isinstance(current.result, Failure):
                    if current._debugInfo is None:
                        current._debugInfo = _DebugInfo()
                    current._debugInfo.failResult = current.result
                elif current._debugInfo is not None:
                    current._debugInfo.failResult = None
                chain.pop()

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

    def __await__(self) -> Generator[Any, None, _T]:
        if self.called and not self.paused:
            result = self.result
            if not isinstance(result, Deferred):
                # Already fired: take the result without suspending.
                self.result = None
                if self._debugInfo is not None:
                    self._debugInfo.failResult = None
                if isinstance(result, Failure):
                    result.raiseException()
                return cast(_T, result)
        shim = _AwaitShim(self)
        yield shim
        return cast(_T, shim._unwrap())

    __iter__ = __await__

    def asFuture(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[_T]:
        """An asyncio Future that completes with this Deferred's result.

        Twisted: ``Deferred.asFuture``.  The result is consumed; cancelling
        the Future cancels this Deferred.
        """
        future: asyncio.Future[_T] = loop.create_future()

        def checkCancel(f: asyncio.Future[_T]) -> None:
            if f.cancelled():
                self.cancel()

        def settle(result: Any) -> None:
            if future.cancelled():
                return None
            if isinstance(result, Failure):
                future.set_exception(result.value.with_traceback(result.tb))
            else:
                future.set_result(result)
            return None

        future.add_done_callback(checkCancel)
        self.addBoth(settle)
        return future

    @classmethod
    def fromFuture(cls, future: asyncio.Future[_T]) -> Deferred[_T]:
        """A Deferred that fires with ``future``'s result.

        Twisted: ``Deferred.fromFuture``.  Cancelling the Deferred cancels the
        Future (and fires the Deferred with :class:`CancelledError`).
        """

        def adapt(f: asyncio.Future[_T]) -> None:
            if d.called:
                return
            try:
                result = f.result()
            except BaseException:
                d.errback(Failure())
            else:
                d.callback(result)

        def cancel(_: Deferred[Any]) -> None:
            future.cancel()

        d: Deferred[_T] = cls(cancel)
        future.add_done_callback(adapt)
        return d

    @classmethod
    def fromCoroutine(cls, coro: Coroutine[Any, Any, _T] | Generator[Any, Any, _T]) -> Deferred[_T]:
        """Run a coroutine; the Deferred fires with what it returns.

        Twisted: ``Deferred.fromCoroutine``.  Cancelling the Deferred cancels
        what the coroutine awaits; the resulting :class:`CancelledError`
        is raised inside the coroutine.
        """
        if not hasattr(coro, "send"):
            raise TypeError(f"{coro!r} is not a coroutine")
        return _CoroutineRunner(coro, cls).deferred


class _AwaitShim:
    """What ``Deferred.__await__`` yields; see Rule 3 in the module docstring."""

    __slots__ = ("_asyncio_future_blocking", "_cancelled", "_deferred", "_loop", "_result")

    def __init__(self, deferred: Deferred[Any]) -> None:
        self._deferred = deferred
        self._result: Any = _NO_RESULT
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelled = False
        self._asyncio_future_blocking = True

    def _unwrap(self) -> Any:
        result = self._result
        self._result = None
        if isinstance(result, Failure):
            if self._cancelled and result.check(CancelledError):
                raise asyncio.CancelledError()
            result.raiseException()
        if result is _NO_RESULT:
            raise RuntimeError("awaited Deferred resumed before it fired")
        return result

    # The part of the asyncio Future protocol that asyncio.Task uses.

    def get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        loop = self.get_loop()

        def store(result: Any) -> None:
            self._result = result
            loop.call_soon(fn, self, context=context)

        self._deferred.addBoth(store)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        return 0

    def done(self) -> bool:
        return self._result is not _NO_RESULT

    def cancelled(self) -> bool:
        return self._cancelled and isinstance(self._result, Failure)

    def cancel(self, msg: object = None) -> bool:
        if self.done():
            return False
        self._cancelled = True
        self._deferred.cancel()
        return True

    def result(self) -> Any:
        result = self._result
        if isinstance(result, Failure):
            if self._cancelled and result.check(CancelledError):
                raise asyncio.CancelledError()
            # Raised here, the exception is thrown into the coroutine by the
            # Task; keep the Failure so _unwrap is not needed afterwards.
            result.raiseException()
        return result

    def exception(self) -> BaseException | None:
        result = self._result
        return result.value if isinstance(result, Failure) else None

    def __await__(self) -> Generator[Any, None, Any]:
        yield self
        return self._unwrap()


class _CoroutineRunner(Generic[_T]):
    """Drives a coroutine for :func:`ensureDeferred` without needing a loop.

    Awaited Deferreds are waited on directly (synchronously when they have
    already fired).  Awaited asyncio futures, and bare ``yield`` from
    ``asyncio.sleep(0)``, need the running event loop.
    """

    __slots__ = ("_context", "_coro", "_current", "deferred")

    def __init__(
        self, coro: Coroutine[Any, Any, _T] | Generator[Any, Any, _T], cls: type[Deferred[Any]]
    ) -> None:
        self._coro = coro
        self._current: Any = None
        self._context = contextvars.copy_context()
        self.deferred: Deferred[_T] = cls(self._cancel)
        self._step(None, False)

    def _cancel(self, d: Deferred[Any]) -> None:
        current = self._current
        if isinstance(current, _AwaitShim):
            current._deferred.cancel()
        elif isinstance(current, asyncio.Future):
            current.cancel()
        else:
            # Nothing cancellable is awaited: close the coroutine.
            self._coro.close()

    def _step(self, value: Any, isFailure: bool) -> None:
        coro = self._coro
        run = self._context.run
        while True:
            try:
                if isFailure:
                    yielded = run(coro.throw, value)
                else:
                    yielded = run(coro.send, value)
            except StopIteration as stop:
                self._current = None
                self.deferred.callback(stop.value)
                return
            except asyncio.CancelledError:
                self._current = None
                self.deferred.errback(Failure(CancelledError()))
                return
            except BaseException:
                self._current = None
                self.deferred.errback(Failure())
                return

            if isinstance(yielded, _AwaitShim):
                shim = yielded
                shim._asyncio_future_blocking = False
                self._current = shim
                state: list[Any] = [True, None]

                def gotResult(
                    result: Any, shim: _AwaitShim = shim, state: list[Any] = state
                ) -> None:
                    shim._result = result
                    if state[0]:
                        state[0] = False
                    else:
                        self._current = None
                        self._step(None, False)

                shim._deferred.addBoth(gotResult)
                if state[0]:
                    state[0] = False
                    return
                self._current = None
                value, isFailure = None, False
                continue
            if isinstance(yielded, asyncio.Future) or hasattr(yielded, "_asyncio_future_blocking"):
                future = yielded
                future._asyncio_future_blocking = False
                self._current = future
                future.add_done_callback(self._futureDone)
                return
            if yielded is None:
                # ``asyncio.sleep(0)``: yield to the event loop once.
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    value, isFailure = None, False
                    continue
                loop.call_soon(self._step, None, False)
                return
            value = TypeError(f"a coroutine driven by a Deferred cannot wait on {yielded!r}")
            isFailure = True

    def _futureDone(self, future: Any) -> None:
        self._current = None
        self._step(None, False)


def ensureDeferred(coro: Awaitable[_T] | Deferred[_T]) -> Deferred[_T]:
    """Wrap a coroutine (or any awaitable) in a Deferred.

    Twisted: ``defer.ensureDeferred``; a Deferred is returned unchanged.

    Raises:
        TypeError: if ``coro`` is not awaitable.
    """
    if isinstance(coro, Deferred):
        return coro
    if hasattr(coro, "send") and hasattr(coro, "throw"):
        return Deferred.fromCoroutine(cast(Coroutine[Any, Any, _T], coro))
    if isinstance(coro, asyncio.Future):
        return Deferred.fromFuture(coro)
    if hasattr(coro, "__await__"):

        async def adapt() -> _T:
            return await coro

        return Deferred.fromCoroutine(adapt())
    raise TypeError(f"ensureDeferred requires a coroutine or Deferred, not {type(coro).__name__}")


def succeed(result: _T) -> Deferred[_T]:
    """A Deferred already fired with ``result``. Twisted: ``defer.succeed``."""
    d: Deferred[_T] = Deferred()
    d.called = True
    d.result = result
    return d


def fail(result: Failure | BaseException | None = None) -> Deferred[Any]:
    """A Deferred already failed with ``result``. Twisted: ``defer.fail``."""
    d: Deferred[Any] = Deferred()
    d.errback(result)
    return d


def execute(callable: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
    """Call ``callable`` now; return a fired Deferred with its result or error.

    Twisted: ``defer.execute``.
    """
    try:
        result = callable(*args, **kw)
    except BaseException:
        return fail()
    return succeed(result)


@overload
def maybeDeferred(f: Callable[..., Deferred[_T]], *args: Any, **kw: Any) -> Deferred[_T]: ...
@overload
def maybeDeferred(
    f: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kw: Any
) -> Deferred[_T]: ...
@overload
def maybeDeferred(f: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]: ...
def maybeDeferred(f: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
    """Call ``f`` and always get a Deferred back.

    Twisted: ``defer.maybeDeferred``.  A returned Deferred is passed through,
    a coroutine is run with :func:`ensureDeferred`, a Failure or raised
    exception gives a failed Deferred, anything else a fired one.
    """
    try:
        result = f(*args, **kw)
    except BaseException:
        return fail(Failure(captureVars=Deferred.debug))
    if isinstance(result, Deferred):
        return result
    if isinstance(result, Failure):
        return fail(result)
    if asyncio.iscoroutine(result):
        return Deferred.fromCoroutine(result)
    return succeed(result)


def _cancelledToTimedOutError(value: Any, timeout: float) -> Any:
    if isinstance(value, Failure):
        value.trap(CancelledError)
        raise TimeoutError(timeout, "Deferred")
    return value
