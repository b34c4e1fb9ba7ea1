"""Coroutines and Deferreds: the driver behind ``ensureDeferred`` and
``inlineCallbacks``, and the object that lets asyncio Tasks await Deferreds.

Driver (:class:`_Runner`)
-------------------------
One runner drives one coroutine or ``inlineCallbacks`` generator, each step
inside the ``contextvars`` context copied when it started.  What the
coroutine yields decides what happens next:

* an :class:`_AwaitShim` (what ``await d`` yields) or a Deferred: wait for
  it, then send its result in (or throw its failure in); if it has already
  fired, go on at once, in a loop rather than by recursion;
* a coroutine or generator (``inlineCallbacks`` only): run it as a nested
  runner and wait for that;
* an asyncio future (an ``await`` of an asyncio awaitable): wait for it to
  complete, which needs its event loop to run;
* a bare ``yield`` inside a coroutine (``asyncio.sleep(0)``): resume on the
  next iteration of the running event loop, if there is one;
* anything else is sent straight back, as Twisted's ``inlineCallbacks`` does.

Cancelling the runner's Deferred follows Twisted's
``_cancellableInlineCallbacks``: the Deferred is chained to a fresh one that
the coroutine will fire, and whatever the coroutine waits on is cancelled, so
the error is raised inside the coroutine, which may catch it and carry on.

asyncio Tasks (:class:`_AwaitShim`)
-----------------------------------
An asyncio Task only accepts futures from the coroutines it drives.  The shim
has the part of the Future API that Task uses (``_asyncio_future_blocking``,
``get_loop``, ``add_done_callback``, ``result``, ``cancel``...).  Cancelling the
Task cancels the Deferred; the Task then sees ``asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import warnings
from collections.abc import Callable, Coroutine, Generator
from functools import wraps
from sys import exc_info
from types import CoroutineType, GeneratorType
from typing import Any, NoReturn, TypeVar

from torsion.internet._deferbase import _NO_KW, _NO_RESULT, CancelledError
from torsion.internet._deferred import _DEFERRED_TYPES, Deferred
from torsion.python.failure import Failure

__all__ = ["inlineCallbacks", "returnValue"]

_T = TypeVar("_T")

AnyCoroutine = Coroutine[Any, Any, Any] | Generator[Any, Any, Any]


class _AwaitShim:
    """What ``Deferred.__await__`` yields when it has to wait.

    The torsion driver only reads ``_deferred``; the other slots are for an
    asyncio Task and are filled once it calls ``get_loop``.
    """

    __slots__ = (
        "_asyncio_future_blocking",
        "_cancelRequested",
        "_deferred",
        "_doneCallbacks",
        "_loop",
        "_result",
    )

    _doneCallbacks: list[tuple[Callable[[Any], object], contextvars.Context | None]]
    _cancelRequested: bool

    def __init__(self, deferred: Deferred[Any]) -> None:
        self._deferred = deferred
        self._result: Any = _NO_RESULT
        self._asyncio_future_blocking = True
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<_AwaitShim for {self._deferred!r}>"

    # The part of asyncio's Future protocol that asyncio.Task relies on.

    def get_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._doneCallbacks = []
            self._cancelRequested = False
        return loop

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        if self._loop is None:
            self.get_loop()
        if self._result is not _NO_RESULT:
            self._schedule(fn, context)
            return
        callbacks = self._doneCallbacks
        callbacks.append((fn, context))
        if len(callbacks) == 1:
            d = self._deferred
            if d.called and not d.paused:
                d.addBoth(self._store)
            else:
                # No callback of d can be running: append our step directly.
                step = (self._store, (), _NO_KW)
                d._callbacks.append((step, step))

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        if self._loop is None:
            self.get_loop()
        before = len(self._doneCallbacks)
        self._doneCallbacks = [(f, c) for f, c in self._doneCallbacks if f != fn]
        return before - len(self._doneCallbacks)

    def _schedule(self, fn: Callable[[Any], object], context: contextvars.Context | None) -> None:
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon(fn, self, context=context)
        except RuntimeError:
            # The loop was closed while the Task waited: nobody is left
            # to resume.
            if not loop.is_closed():
                raise

    def _store(self, result: Any) -> None:
        # The awaiting Task takes the result over, so the Deferred goes on
        # with None (a failure is not reported as unhandled).
        self._result = result
        callbacks, self._doneCallbacks = self._doneCallbacks, []
        loop = self._loop
        assert loop is not None
        for fn, context in callbacks:
            try:
                loop.call_soon(fn, self, context=context)
            except RuntimeError:
                # The loop was closed while the Task waited: nobody is left
                # to resume.
                if not loop.is_closed():
                    raise

    def done(self) -> bool:
        return self._result is not _NO_RESULT

    def cancelled(self) -> bool:
        return self._wasCancelled() and self._result is not _NO_RESULT

    def _wasCancelled(self) -> bool:
        return self._loop is not None and self._cancelRequested

    def cancel(self, msg: object = None) -> bool:
        if self._result is not _NO_RESULT:
            return False
        if self._loop is None:
            self.get_loop()
        self._cancelRequested = True
        self._deferred.cancel()
        result = self._result
        if result is _NO_RESULT:
            # Still waiting (on something slow to cancel); the Task will get
            # CancelledError when it does fire.
            return True
        # Fired by the cancel.  Report a real cancellation; otherwise let the
        # Task cancel itself, as it does when its future finished first.
        return isinstance(result, Failure) and result.check(CancelledError) is not None

    def result(self) -> Any:
        result = self._result
        if self._loop is not None and self._cancelRequested:
            raise asyncio.CancelledError()
        if isinstance(result, Failure):
            result.raiseException()
        if result is _NO_RESULT:
            raise asyncio.InvalidStateError("Result is not ready.")
        return result

    def exception(self) -> BaseException | None:
        if self._wasCancelled():
            raise asyncio.CancelledError()
        result = self._result
        if result is _NO_RESULT:
            raise asyncio.InvalidStateError("Exception is not set.")
        return result.value if isinstance(result, Failure) else None


class _DefGen_Return(BaseException):
    """Raised by the deprecated :func:`returnValue`."""

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value


def returnValue(val: object) -> NoReturn:
    """Return ``val`` from an ``inlineCallbacks`` generator.

    Twisted: ``defer.returnValue``; deprecated there since 24.7.0 and here:
    use a plain ``return val``.  It raises a ``BaseException`` subclass, so an
    ``except:`` between the call and the generator would catch it.
    """
    warnings.warn(
        "torsion.internet.defer.returnValue is deprecated; use a plain return statement",
        DeprecationWarning,
        stacklevel=2,
    )
    raise _DefGen_Return(val)


_TRANSLATE_CANCEL = 1  # an asyncio.CancelledError escaping means "we were cancelled"
_THROW_CANCEL = 2  # throw asyncio.CancelledError in at the next loop turn


class _Runner:
    """Drives one coroutine or generator; see the module docstring."""

    __slots__ = ("_context", "_flags", "_gen", "_resumeStep", "_target", "_waitingOn")

    def __init__(self, gen: AnyCoroutine) -> None:
        self._gen = gen
        self._context = contextvars.copy_context()
        self._target: Deferred[Any] = Deferred(self._cancel)
        # What the coroutine waits on: a Deferred, an asyncio future, the
        # loop (True) or nothing (None).
        self._waitingOn: Any = None
        self._flags = 0
        # The callback pair that resumes us, made on first use.
        self._resumeStep: Any = None

    # -- running ---------------------------------------------------------------

    def _step(self, result: Any) -> None:
        """Send ``result`` in (throw it, for a Failure) and run to the next wait."""
        self._waitingOn = None
        gen = self._gen
        run = self._context.run
        while True:
            try:
                if isinstance(result, Failure):
                    yielded = run(gen.throw, result.value.with_traceback(result.tb))
                else:
                    yielded = run(gen.send, result)
            except StopIteration as e:
                returned = e.value
                del e
                break
            except _DefGen_Return as e:
                _warnIfNonLocal()
                returned = e.value
                del e
                break
            except asyncio.CancelledError:
                if self._flags & _TRANSLATE_CANCEL:
                    # We cancelled the asyncio awaitable because our Deferred
                    # was cancelled: report it the Deferred way.
                    self._target.errback(Failure(CancelledError()))
                else:
                    self._target.errback()
                return
            except BaseException:
                self._target.errback(Failure(captureVars=Deferred.debug))
                return

            kind = type(yielded)
            if kind is _AwaitShim:
                waitFor = yielded._deferred
            elif kind in _DEFERRED_TYPES:
                waitFor = yielded
            elif kind is CoroutineType or kind is GeneratorType:
                waitFor = run(_start, yielded)
            elif getattr(yielded, "_asyncio_future_blocking", None) is not None:
                self._waitForFuture(yielded)
                return
            elif yielded is None and type(gen) is not GeneratorType and self._waitForLoop():
                return
            else:
                result = yielded
                continue

            if waitFor.called and not waitFor.paused:
                # Fired already: take the result (as a callback returning
                # None would) and go on, in this loop rather than recursively.
                result = waitFor.result
                waitFor.result = None
                if waitFor._debugInfo is not None:
                    waitFor._debugInfo.failResult = None
                continue
            if self._flags:
                self._flags = 0
            resume = self._resumeStep
            if resume is None:
                step = (self._step, (), _NO_KW)
                resume = self._resumeStep = (step, step)
            # Unfired (or paused), so no callback is running: append directly.
            waitFor._callbacks.append(resume)
            self._waitingOn = waitFor
            return
        # Fired outside the except clause, so that code run by the callbacks
        # does not see StopIteration as the exception being handled.
        self._target.callback(returned)

    def _waitForFuture(self, future: Any) -> None:
        future._asyncio_future_blocking = False
        self._waitingOn = future
        future.add_done_callback(self._futureDone)

    def _futureDone(self, future: Any) -> None:
        if self._waitingOn is future:
            # The future's __await__ fetches its own result.
            self._step(None)

    def _waitForLoop(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._waitingOn = True
        loop.call_soon(self._loopTurn)
        return True

    def _loopTurn(self) -> None:
        if self._waitingOn is not True:
            return
        if self._flags & _THROW_CANCEL:
            self._flags &= ~_THROW_CANCEL
            self._step(Failure._withoutTraceback(asyncio.CancelledError()))
        else:
            self._step(None)

    # -- cancelling ------------------------------------------------------------

    def _cancel(self, d: Deferred[Any]) -> None:
        # ``d`` (our target) is unfired.  Chain it to a fresh Deferred that
        # the coroutine will fire, then cancel what the coroutine waits on.
        def chainToFresh(_: object) -> Deferred[Any]:
            fresh: Deferred[Any] = Deferred(self._cancel)
            self._target = fresh
            self._cancelWaitingOn()
            return fresh

        step = (chainToFresh, (), _NO_KW)
        d._callbacks.insert(0, (step, step))
        d.callback(None)

    def _cancelWaitingOn(self) -> None:
        waitingOn = self._waitingOn
        if waitingOn is None:
            # Cancelled from inside the running coroutine: it goes on.
            return
        if waitingOn is True:
            self._flags |= _THROW_CANCEL | _TRANSLATE_CANCEL
        elif type(waitingOn) in _DEFERRED_TYPES:
            waitingOn.cancel()
        else:
            self._flags |= _TRANSLATE_CANCEL
            waitingOn.cancel()


def _start(gen: AnyCoroutine) -> Deferred[Any]:
    """Start driving ``gen``; the Deferred fires with its outcome."""
    runner = _Runner(gen)
    deferred = runner._target
    runner._step(None)
    return deferred


def _warnIfNonLocal() -> None:
    """Warn when returnValue() was called from a function the generator called."""
    tb = exc_info()[2]
    # tb: _Runner._step -> the generator's frame -> returnValue (-> ...).
    app = tb.tb_next if tb is not None else None
    if app is None or app.tb_next is None or app.tb_next.tb_next is None:
        return
    ultimate = app
    while ultimate.tb_next is not None and ultimate.tb_next.tb_next is not None:
        ultimate = ultimate.tb_next
    warnings.warn_explicit(
        f"returnValue() in {ultimate.tb_frame.f_code.co_name!r} causing "
        f"{app.tb_frame.f_code.co_name!r} to exit: returnValue should only be "
        "called by functions decorated with inlineCallbacks",
        DeprecationWarning,
        ultimate.tb_frame.f_code.co_filename,
        ultimate.tb_lineno,
    )


def inlineCallbacks(f: Callable[..., Generator[Any, Any, _T]]) -> Callable[..., Deferred[_T]]:
    """Write Deferred-using code as a generator that ``yield``s Deferreds.

    Twisted: ``defer.inlineCallbacks``.  Each ``yield`` of a Deferred (or of
    a coroutine) suspends the generator until it fires and gives its result,
    or raises its failure inside the generator.  Anything else yielded is
    sent straight back.  ``return value`` fires the returned Deferred with
    ``value``; :func:`returnValue` still works but is deprecated.  Cancelling
    the returned Deferred cancels what the generator is waiting on.

    Raises:
        TypeError: (when called) if ``f`` does not return a generator.
    """

    @wraps(f)
    def unwindGenerator(*args: Any, **kwargs: Any) -> Deferred[_T]:
        try:
            gen = f(*args, **kwargs)
        except _DefGen_Return:
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; instead "
                "caught returnValue being used in a non-generator"
            ) from None
        if type(gen) is not GeneratorType:
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; instead got {gen!r}"
            )
        return _start(gen)

    return unwindGenerator
