"""Running blocking code in threads and getting Deferreds back.

Twisted: ``twisted.internet.threads``.  Results travel back to the reactor
thread with ``reactor.callFromThread``, so Deferreds are only ever fired in
the reactor thread.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from typing import Any, TypeVar

from torsion.internet._defer import Deferred, maybeDeferred
from torsion.python.failure import Failure

__all__ = [
    "blockingCallFromThread",
    "callMultipleInThread",
    "deferToThread",
    "deferToThreadPool",
]

_R = TypeVar("_R")
Calls = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


def _globalReactor() -> Any:
    from torsion.internet.main import getGlobalReactor

    return getGlobalReactor()


def deferToThreadPool(
    reactor: Any, threadpool: Any, f: Callable[..., _R], *args: Any, **kwargs: Any
) -> Deferred[_R]:
    """Run ``f(*args, **kwargs)`` in ``threadpool``; a Deferred gets its result.

    Twisted: ``threads.deferToThreadPool``.

    Args:
        reactor: the reactor whose thread fires the Deferred.
        threadpool: anything with ``callInThreadWithCallback`` (e.g. a
            :class:`torsion.python.threadpool.ThreadPool`).
        f: the blocking function.

    Returns:
        A Deferred that fires with what ``f`` returns, or fails with what it
        raises.
    """
    d: Deferred[_R] = Deferred()

    def onResult(success: bool, result: Any) -> None:
        if success:
            reactor.callFromThread(d.callback, result)
        else:
            reactor.callFromThread(d.errback, result)

    threadpool.callInThreadWithCallback(onResult, f, *args, **kwargs)
    return d


def deferToThread(f: Callable[..., _R], *args: Any, **kwargs: Any) -> Deferred[_R]:
    """Run ``f(*args, **kwargs)`` in the global reactor's thread pool.

    Twisted: ``threads.deferToThread``.

    Returns:
        A Deferred with ``f``'s result or error.
    """
    reactor = _globalReactor()
    return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)


def _runMultiple(tupleList: Calls) -> None:
    for f, args, kwargs in tupleList:
        f(*args, **kwargs)


def callMultipleInThread(tupleList: Calls) -> None:
    """Run ``(f, args, kwargs)`` calls one after another in one pool thread.

    Twisted: ``threads.callMultipleInThread`` (uses the global reactor).
    """
    _globalReactor().callInThread(_runMultiple, tupleList)


def blockingCallFromThread(reactor: Any, f: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    """From a non-reactor thread, run ``f`` in the reactor thread and wait.

    Twisted: ``threads.blockingCallFromThread``.  If ``f`` returns a Deferred
    (or a coroutine), wait for its result.

    Returns:
        The result.

    Raises:
        Exception: what ``f`` raised, or the failure of its Deferred.
        RuntimeError: when called in the thread running the reactor's event
            loop, where waiting would deadlock (Twisted just hangs).
    """
    loop = getattr(reactor, "_loop", None)
    if loop is not None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("blockingCallFromThread must not be called in the reactor thread")
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def inReactor() -> None:
        maybeDeferred(f, *a, **kw).addBoth(results.put)

    reactor.callFromThread(inReactor)
    result = results.get()
    if isinstance(result, Failure):
        result.raiseException()
    return result
