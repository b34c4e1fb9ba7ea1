"""A small thread pool with Twisted's ``ThreadPool`` API.

Twisted: ``twisted.python.threadpool.ThreadPool``.  Threads are started on
demand up to ``max`` while work is queued and no worker is idle; each work
item runs in a copy of the ``contextvars`` context that was current when it
was queued.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, cast

from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["ThreadPool"]

_STOP = object()

WorkItem = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...], dict[str, Any], Any]


class ThreadPool:
    """Run callables in worker threads.

    Twisted: ``twisted.python.threadpool.ThreadPool``.

    Args:
        minthreads: threads started by :meth:`start`.
        maxthreads: the most threads that will run at once.
        name: prefix of the worker thread names.
    """

    def __init__(self, minthreads: int = 5, maxthreads: int = 20, name: str | None = None) -> None:
        if minthreads < 0:
            raise ValueError("minimum is negative")
        if minthreads > maxthreads:
            raise ValueError("minimum is greater than maximum")
        self.min = minthreads
        self.max = maxthreads
        self.name = name
        self.started = False
        self.joined = False
        self.threads: list[threading.Thread] = []
        self._queue: queue.SimpleQueue[WorkItem | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._pending = 0

    @property
    def workers(self) -> int:
        """How many worker threads exist."""
        return len(self.threads)

    def start(self) -> None:
        """Start ``min`` workers and any needed for already queued work."""
        self.joined = False
        self.started = True
        self.adjustPoolsize()

    def stop(self) -> None:
        """Ask every worker to exit after the queued work, and wait for them."""
        self.joined = True
        self.started = False
        with self._lock:
            threads = list(self.threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join()
        with self._lock:
            self.threads = [t for t in self.threads if t.is_alive()]

    def adjustPoolsize(self, minthreads: int | None = None, maxthreads: int | None = None) -> None:
        """Change the pool bounds. Twisted: ``ThreadPool.adjustPoolsize``."""
        if minthreads is None:
            minthreads = self.min
        if maxthreads is None:
            maxthreads = self.max
        if minthreads < 0:
            raise ValueError("minimum is negative")
        if minthreads > maxthreads:
            raise ValueError("minimum is greater than maximum")
        self.min = minthreads
        self.max = maxthreads
        if not self.started:
            return
        with self._lock:
            excess = len(self.threads) - self.max
            for _ in range(max(0, excess)):
                self._queue.put(_STOP)
            while len(self.threads) < self.min or (
                self._pending > self._idle and len(self.threads) < self.max
            ):
                self._startWorker()

    def callInThread(self, func: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """Queue ``func(*args, **kw)``. Twisted: ``ThreadPool.callInThread``."""
        self.callInThreadWithCallback(None, func, *args, **kw)

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> None:
        """Queue ``func``; call ``onResult(success, resultOrFailure)`` in the worker.

        Twisted: ``ThreadPool.callInThreadWithCallback``.
        """
        if self.joined:
            return
        item: WorkItem = (contextvars.copy_context(), func, args, kw, onResult)
        with self._lock:
            self._pending += 1
            self._queue.put(item)
            if self.started and self._idle < self._pending and len(self.threads) < self.max:
                self._startWorker()

    def _startWorker(self) -> None:
        name = f"PoolThread-{self.name or id(self)}-{len(self.threads)}"
        thread = threading.Thread(target=self._worker, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _worker(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._lock:
                    self._idle += 1
                got = self._queue.get()
                with self._lock:
                    self._idle -= 1
                if got is _STOP:
                    return
                item = cast(WorkItem, got)
                ctx, func, args, kw, onResult = item
                with self._lock:
                    self._pending -= 1
                try:
                    result = ctx.run(func, *args, **kw)
                except BaseException:
                    success, result = False, Failure()
                else:
                    success = True
                if onResult is not None:
                    try:
                        onResult(success, result)
                    except BaseException:
                        log.err(None, "Exception in thread pool result callback")
                elif not success:
                    log.err(result, "Unhandled error in thread pool work")
                del result, item, got
        finally:
            with self._lock:
                if me in self.threads:
                    self.threads.remove(me)

    def dumpStats(self) -> None:
        """Log the pool's state."""
        log.msg(f"queue: {self._pending} pending, {self._idle} idle, {len(self.threads)} threads")

    def __repr__(self) -> str:
        return f"<ThreadPool {self.name!r} min={self.min} max={self.max} threads={self.workers}>"
