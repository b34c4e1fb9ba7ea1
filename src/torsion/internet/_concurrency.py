"""Event-driven lock, semaphore and queue: ``DeferredLock``,
``DeferredSemaphore`` and ``DeferredQueue``.

Waiters are Deferreds fired in FIFO order.  Each waiter's Deferred can be
cancelled, which takes it out of the line.  The lock and the semaphore are
asynchronous context managers (``async with lock:``) as in Twisted.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from torsion.internet._defer import Deferred, maybeDeferred, succeed

__all__ = [
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "QueueOverflow",
    "QueueUnderflow",
]

_T = TypeVar("_T")
_Self = TypeVar("_Self", bound="_ConcurrencyPrimitive")


class _ConcurrencyPrimitive:
    """What the lock and the semaphore share: ``run`` and ``async with``."""

    def __init__(self) -> None:
        self.waiting: list[Deferred[Any]] = []

    def acquire(self: _Self) -> Deferred[_Self]:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def _cancelAcquire(self, d: Deferred[Any]) -> None:
        # Only unfired waiters can be cancelled, and those are in the line.
        self.waiting.remove(d)

    def _releaseAndReturn(self, result: _T) -> _T:
        self.release()
        return result

    def run(self, f: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Acquire, call ``f(*args, **kwargs)``, release when its result is ready.

        Twisted: ``DeferredLock.run`` / ``DeferredSemaphore.run``.  ``f`` may
        return a Deferred or a coroutine; the release waits for it.

        Returns:
            A Deferred with ``f``'s result.
        """

        def execute(_: object) -> Deferred[Any]:
            return maybeDeferred(f, *args, **kwargs).addBoth(self._releaseAndReturn)

        return self.acquire().addCallback(execute)

    def __aenter__(self: _Self) -> Deferred[_Self]:
        return self.acquire()

    def __aexit__(
        self,
        excType: type[BaseException] | None,
        excValue: BaseException | None,
        tb: TracebackType | None,
    ) -> Deferred[Literal[False]]:
        self.release()
        return succeed(False)


class DeferredLock(_ConcurrencyPrimitive):
    """A lock for event-driven code. Twisted: ``defer.DeferredLock``.

    Attributes:
        locked: True while someone holds the lock.
    """

    locked = False

    def acquire(self) -> Deferred[DeferredLock]:
        """Get the lock: a Deferred that fires with this lock once it is ours.

        Twisted: ``DeferredLock.acquire``.  Cancelling a waiting acquisition
        removes it from the line.
        """
        d: Deferred[DeferredLock] = Deferred(self._cancelAcquire)
        if self.locked:
            self.waiting.append(d)
        else:
            self.locked = True
            d.callback(self)
        return d

    def release(self) -> None:
        """Give the lock to the next waiter, or unlock it.

        Twisted: ``DeferredLock.release``.
        """
        assert self.locked, "Tried to release an unlocked lock"
        self.locked = False
        if self.waiting:
            self.locked = True
            self.waiting.pop(0).callback(self)

    def __repr__(self) -> str:
        return f"<DeferredLock locked={self.locked} waiting={len(self.waiting)}>"


class DeferredSemaphore(_ConcurrencyPrimitive):
    """A semaphore for event-driven code. Twisted: ``defer.DeferredSemaphore``.

    Args:
        tokens: how many holders may hold it at once (at least 1).

    Attributes:
        limit: the ``tokens`` given.
        tokens: how many more holders may acquire it now.

    Raises:
        ValueError: if ``tokens`` is below 1.
    """

    def __init__(self, tokens: int) -> None:
        super().__init__()
        if tokens < 1:
            raise ValueError("DeferredSemaphore requires tokens >= 1")
        self.tokens = tokens
        self.limit = tokens

    def acquire(self) -> Deferred[DeferredSemaphore]:
        """Take a token: a Deferred that fires with this semaphore once it is ours.

        Twisted: ``DeferredSemaphore.acquire``.
        """
        assert self.tokens >= 0, "DeferredSemaphore has a negative number of tokens"
        d: Deferred[DeferredSemaphore] = Deferred(self._cancelAcquire)
        if self.tokens:
            self.tokens -= 1
            d.callback(self)
        else:
            self.waiting.append(d)
        return d

    def release(self) -> None:
        """Return a token, handing it to the next waiter if there is one.

        Twisted: ``DeferredSemaphore.release``.
        """
        assert self.tokens < self.limit, "DeferredSemaphore released too many times"
        self.tokens += 1
        if self.waiting:
            self.tokens -= 1
            self.waiting.pop(0).callback(self)

    def __repr__(self) -> str:
        return f"<DeferredSemaphore tokens={self.tokens}/{self.limit} waiting={len(self.waiting)}>"


class QueueOverflow(Exception):
    """``DeferredQueue.put`` on a full queue. Twisted: ``defer.QueueOverflow``."""


class QueueUnderflow(Exception):
    """Too many pending ``DeferredQueue.get`` calls. Twisted: ``defer.QueueUnderflow``."""


class DeferredQueue(Generic[_T]):
    """A queue whose ``get`` returns a Deferred. Twisted: ``defer.DeferredQueue``.

    Args:
        size: the most objects held; None for no limit.
        backlog: the most ``get`` calls waiting at once; None for no limit.

    Attributes:
        pending: the objects not yet taken.
        waiting: the Deferreds of ``get`` calls waiting for an object.
    """

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        self.waiting: list[Deferred[_T]] = []
        self.pending: list[_T] = []
        self.size = size
        self.backlog = backlog

    def _cancelGet(self, d: Deferred[_T]) -> None:
        self.waiting.remove(d)

    def put(self, obj: _T) -> None:
        """Hand ``obj`` to the oldest waiting ``get``, or keep it.

        Twisted: ``DeferredQueue.put``.

        Raises:
            QueueOverflow: if ``size`` objects are already held.
        """
        if self.waiting:
            self.waiting.pop(0).callback(obj)
        elif self.size is None or len(self.pending) < self.size:
            self.pending.append(obj)
        else:
            raise QueueOverflow()

    def get(self) -> Deferred[_T]:
        """A Deferred for the next object; cancelling it leaves the line.

        Twisted: ``DeferredQueue.get``.

        Raises:
            QueueUnderflow: if ``backlog`` gets are already waiting.
        """
        if self.pending:
            return succeed(self.pending.pop(0))
        if self.backlog is None or len(self.waiting) < self.backlog:
            d: Deferred[_T] = Deferred(self._cancelGet)
            self.waiting.append(d)
            return d
        raise QueueUnderflow()

    def __repr__(self) -> str:
        return f"<DeferredQueue pending={len(self.pending)} waiting={len(self.waiting)}>"
