"""torsion.internet.threads on a real reactor (both loops)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import main, threads
from torsion.internet.defer import Deferred, succeed
from torsion.python.threadpool import ThreadPool


@pytest.fixture
def global_reactor(reactor: Any) -> Iterator[Any]:
    """The test's reactor installed as the global one for the duration of the test."""
    previous = sys.modules.get("torsion.internet.reactor")
    main.uninstallReactor()
    main.installReactor(reactor)
    try:
        yield reactor
    finally:
        pool = reactor.threadpool
        if pool is not None:
            pool.stop()
        main.uninstallReactor()
        if previous is not None:
            main.installReactor(previous)


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    tp = ThreadPool(0, 2, "test")
    tp.start()
    try:
        yield tp
    finally:
        tp.stop()


def test_deferToThreadPool_result(reactor: Any, pool: ThreadPool) -> None:
    """The function runs in a pool thread; the Deferred fires in the reactor thread."""
    where: list[str] = []

    def work(a: int, b: int = 0) -> int:
        where.append(threading.current_thread().name)
        return a + b

    d = threads.deferToThreadPool(reactor, pool, work, 1, b=2)
    fired: list[str] = []
    d.addCallback(lambda r: fired.append(threading.current_thread().name) or r)
    assert runUntil(reactor, d) == 3
    assert where[0].startswith("PoolThread-test")
    assert fired == [threading.current_thread().name]


def test_deferToThreadPool_error(reactor: Any, pool: ThreadPool) -> None:
    """An exception in the thread fails the Deferred."""

    def work() -> None:
        raise KeyError("in thread")

    with pytest.raises(KeyError):
        runUntil(reactor, threads.deferToThreadPool(reactor, pool, work))


def test_deferToThread_uses_global_reactor_pool(global_reactor: Any) -> None:
    """deferToThread runs on the global reactor's thread pool."""
    global_reactor.getThreadPool().start()
    d = threads.deferToThread(lambda: threading.current_thread().name)
    assert runUntil(global_reactor, d).startswith("PoolThread-")


def test_callMultipleInThread_runs_in_one_thread(global_reactor: Any) -> None:
    """callMultipleInThread runs the calls in order, in the same pool thread."""
    global_reactor.getThreadPool().start()
    seen: list[tuple[str, int]] = []
    done: Deferred[None] = Deferred()

    def record(i: int) -> None:
        seen.append((threading.current_thread().name, i))

    threads.callMultipleInThread(
        [
            (record, (1,), {}),
            (record, (), {"i": 2}),
            (global_reactor.callFromThread, (done.callback, None), {}),
        ]
    )
    runUntil(global_reactor, done)
    assert [i for _, i in seen] == [1, 2]
    assert seen[0][0] == seen[1][0] != threading.current_thread().name


def test_blockingCallFromThread(reactor: Any) -> None:
    """A thread runs code in the reactor thread and waits for its (Deferred) result."""
    results: list[Any] = []
    done: Deferred[None] = Deferred()

    def inThread() -> None:
        try:
            results.append(threads.blockingCallFromThread(reactor, lambda: "plain"))
            results.append(
                threads.blockingCallFromThread(
                    reactor, lambda: succeed(1).addCallback(lambda r: r + 1)
                )
            )
            later: Deferred[str] = Deferred()
            reactor.callFromThread(reactor.callLater, 0.01, later.callback, "later")
            results.append(threads.blockingCallFromThread(reactor, lambda: later))

            async def coro() -> str:
                return "coroutine"

            results.append(threads.blockingCallFromThread(reactor, coro))
            try:
                threads.blockingCallFromThread(reactor, lambda: 1 / 0)
            except ZeroDivisionError:
                results.append("raised")
        finally:
            reactor.callFromThread(done.callback, None)

    thread = threading.Thread(target=inThread)
    thread.start()
    runUntil(reactor, done)
    thread.join(5)
    assert results == ["plain", 2, "later", "coroutine", "raised"]


def test_blockingCallFromThread_in_reactor_thread_refuses(reactor: Any) -> None:
    """Called in the reactor's own thread it raises instead of deadlocking."""

    async def inLoop() -> str:
        try:
            threads.blockingCallFromThread(reactor, lambda: None)
        except RuntimeError as e:
            return str(e)
        return "no"

    message = reactor.loop.run_until_complete(inLoop())
    assert "reactor thread" in message
