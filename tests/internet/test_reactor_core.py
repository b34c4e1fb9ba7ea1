"""IReactorCore / IReactorTime / IReactorThreads on the asyncio reactor."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error
from torsion.internet._loops import newEventLoop
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.internet.defer import Deferred, succeed


def test_run_stop_fires_shutdown_triggers_in_phase_order(reactor: Any) -> None:
    """run() fires startup, stop() fires shutdown: before, during, after."""
    events: list[str] = []
    reactor.addSystemEventTrigger("before", "startup", events.append, "before startup")
    reactor.callWhenRunning(events.append, "running")
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after shutdown")
    reactor.addSystemEventTrigger("during", "shutdown", events.append, "during shutdown")
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "before shutdown")
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert events == [
        "before startup",
        "running",
        "before shutdown",
        "during shutdown",
        "after shutdown",
    ]
    assert not reactor.running


def test_before_trigger_deferred_delays_during(reactor: Any) -> None:
    """A Deferred returned by a 'before' trigger holds back 'during' and 'after'."""
    events: list[str] = []
    gate: Deferred[None] = Deferred()
    reactor.addSystemEventTrigger("before", "test", lambda: gate)
    reactor.addSystemEventTrigger("during", "test", events.append, "during")
    reactor.addSystemEventTrigger("after", "test", events.append, "after")
    reactor.fireSystemEvent("test")
    assert events == []
    gate.callback(None)
    assert events == ["during", "after"]


def test_invalid_phase_and_trigger_removal(reactor: Any) -> None:
    """Unknown phases raise KeyError; removed triggers do not run; bad IDs raise."""
    with pytest.raises(KeyError):
        reactor.addSystemEventTrigger("sometime", "test", print)
    events: list[str] = []
    tid = reactor.addSystemEventTrigger("during", "test", events.append, "x")
    reactor.removeSystemEventTrigger(tid)
    reactor.fireSystemEvent("test")
    assert events == []
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger(tid)
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger(None)


def test_stop_when_not_running_raises(reactor: Any) -> None:
    """stop() before run() raises ReactorNotRunning."""
    with pytest.raises(error.ReactorNotRunning):
        reactor.stop()


def test_not_restartable(loop_impl: str) -> None:
    """run() after a completed run raises ReactorNotRestartable."""
    loop = newEventLoop(loop_impl)
    r = AsyncioReactor(loop)
    try:
        r.callWhenRunning(r.stop)
        r.run(installSignalHandlers=False)
        with pytest.raises(error.ReactorNotRestartable):
            r.run(installSignalHandlers=False)
        with pytest.raises(error.ReactorNotRunning):
            r.stop()
    finally:
        loop.close()


def test_crash_ends_run_without_shutdown(reactor: Any) -> None:
    """crash() returns from run() at once; no shutdown triggers fire; run() works again."""
    events: list[str] = []
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "shutdown")
    reactor.callWhenRunning(reactor.crash)
    reactor.run(installSignalHandlers=False)
    assert events == []
    assert not reactor.running
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert events == ["shutdown"]


def test_call_later_order_and_arguments(reactor: Any) -> None:
    """Calls run in time order with their arguments; equal times keep FIFO order."""
    calls: list[Any] = []
    done: Deferred[None] = Deferred()
    reactor.callLater(0.02, calls.append, "c")
    reactor.callLater(0.01, calls.append, "b")
    reactor.callLater(0, calls.append, "a1")
    reactor.callLater(0, calls.append, "a2")
    reactor.callLater(0.03, lambda **kw: (calls.append(kw), done.callback(None)), k=1)
    runUntil(reactor, done)
    assert calls == ["a1", "a2", "b", "c", {"k": 1}]


def test_delayed_call_cancel_reset_delay(reactor: Any) -> None:
    """DelayedCall cancel/reset/delay/active and its AlreadyCalled/AlreadyCancelled errors."""
    calls: list[str] = []
    dc = reactor.callLater(10, calls.append, "never")
    assert dc.active()
    assert dc in reactor.getDelayedCalls()
    dc.cancel()
    assert not dc.active()
    assert dc not in reactor.getDelayedCalls()
    with pytest.raises(error.AlreadyCancelled):
        dc.cancel()
    with pytest.raises(error.AlreadyCancelled):
        dc.reset(1)
    with pytest.raises(error.AlreadyCancelled):
        dc.delay(1)

    done: Deferred[None] = Deferred()
    moved = reactor.callLater(10, lambda: (calls.append("moved"), done.callback(None)))
    moved.reset(0.01)
    assert moved.getTime() == pytest.approx(reactor.seconds() + 0.01, abs=0.05)
    runUntil(reactor, done)
    assert calls == ["moved"]
    with pytest.raises(error.AlreadyCalled):
        moved.cancel()
    with pytest.raises(error.AlreadyCalled):
        moved.reset(1)


def test_delayed_call_pushed_later_runs_later(reactor: Any) -> None:
    """reset() and delay() to a later time are honoured (the lazy re-arm path)."""
    order: list[str] = []
    done: Deferred[None] = Deferred()
    late = reactor.callLater(0.005, order.append, "late")
    late.reset(0.03)
    later = reactor.callLater(0.005, order.append, "delayed")
    later.delay(0.04)
    reactor.callLater(0.015, order.append, "marker")
    reactor.callLater(0.06, done.callback, None)
    runUntil(reactor, done)
    assert order == ["marker", "late", "delayed"]


def test_exception_in_delayed_call_is_logged(reactor: Any, logged_errors: Any) -> None:
    """An exception raised by a timed call is logged and the loop goes on."""
    done: Deferred[None] = Deferred()

    def boom() -> None:
        raise ZeroDivisionError()

    reactor.callLater(0, boom)
    reactor.callLater(0.001, done.callback, "ok")
    assert runUntil(reactor, done) == "ok"
    assert len(logged_errors.flush(ZeroDivisionError)) == 1


def test_negative_delay_rejected(reactor: Any) -> None:
    """callLater refuses a negative delay."""
    with pytest.raises(ValueError):
        reactor.callLater(-1, print)


def test_call_from_thread_wakes_loop(reactor: Any) -> None:
    """callFromThread from another thread runs the callable in the loop thread."""
    done: Deferred[Any] = Deferred()
    seen: list[Any] = []

    def inLoop(value: int) -> None:
        seen.append((value, threading.get_ident()))
        if len(seen) == 50:
            done.callback(None)

    def worker() -> None:
        for i in range(50):
            reactor.callFromThread(inLoop, i)

    threads = [threading.Thread(target=worker) for _ in range(1)]
    for t in threads:
        t.start()
    runUntil(reactor, done)
    for t in threads:
        t.join()
    assert [v for v, _ in seen] == list(range(50))
    assert {tid for _, tid in seen} == {threading.get_ident()}


def test_call_in_thread_and_pool(reactor: Any) -> None:
    """callInThread runs work in the pool once the reactor runs; the pool stops at shutdown."""
    results: list[str] = []

    def work() -> None:
        results.append(threading.current_thread().name)
        reactor.callFromThread(reactor.stop)

    reactor.suggestThreadPoolSize(3)
    pool = reactor.getThreadPool()
    assert pool.max == 3
    reactor.callInThread(work)
    reactor.run(installSignalHandlers=False)
    assert len(results) == 1 and results[0] != threading.current_thread().name
    assert reactor.threadpool is None
    assert not any(t.is_alive() for t in pool.threads)


def test_resolve(reactor: Any) -> None:
    """resolve(): '' -> 0.0.0.0, IPv4 literals unchanged, names via DNS, errors DNSLookupError."""
    assert runUntil(reactor, reactor.resolve("")) == "0.0.0.0"
    assert runUntil(reactor, reactor.resolve("10.1.2.3")) == "10.1.2.3"
    assert runUntil(reactor, reactor.resolve("localhost")) == "127.0.0.1"
    with pytest.raises(error.DNSLookupError):
        runUntil(reactor, reactor.resolve("no-such-host.invalid"))


def test_joins_running_asyncio_loop(loop_impl: str) -> None:
    """Inside asyncio.run(), a reactor binds to the running loop and counts as running."""
    seen: list[Any] = []

    async def main() -> None:
        r = AsyncioReactor()
        seen.append(r.running)
        assert r.loop is asyncio.get_running_loop()
        d: Deferred[str] = Deferred()
        r.callLater(0.001, d.callback, "fired")
        seen.append(await d)
        r.callWhenRunning(seen.append, "now")
        seen.append(await succeed("sync"))

    loop = newEventLoop(loop_impl)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert seen == [True, "fired", "now", "sync"]


def test_run_inside_running_loop_refused(loop_impl: str) -> None:
    """run() on an already running loop raises ReactorAlreadyRunning instead of hanging."""

    async def main() -> None:
        r = AsyncioReactor()
        with pytest.raises(error.ReactorAlreadyRunning):
            r.run()

    loop = newEventLoop(loop_impl)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_shutdown_disconnects_everything(reactor: Any) -> None:
    """stop(): open connections get ConnectionLost, attempts fail, ports close, factories stop."""
    from tests.internet.pairs import Recorder, connectPair
    from torsion.internet import protocol

    s, c, port = connectPair(reactor)
    events: list[str] = []

    class Pending(protocol.ClientFactory):
        noisy = False

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            events.append(f"failed:{reason.type.__name__}")

        def doStop(self) -> None:
            events.append("doStop")

    def stopSoon() -> None:
        # An attempt that cannot complete before shutdown: the connect is
        # started on the next iteration, after the shutdown has run.
        reactor.connectTCP("127.0.0.1", port.getHost().port, Pending())
        reactor.stop()

    reactor.callWhenRunning(stopSoon)
    reactor.run(installSignalHandlers=False)
    assert isinstance(s, Recorder) and isinstance(c, Recorder)
    assert s.reason.check(error.ConnectionLost) and c.reason.check(error.ConnectionLost)
    assert s.lostCount == 1 and c.lostCount == 1
    assert events == ["failed:ConnectError", "doStop"]
    assert not port.connected
