"""DeferredLock, DeferredSemaphore, DeferredQueue."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    QueueOverflow,
    QueueUnderflow,
    ensureDeferred,
    fail,
)


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has not fired"
    return box[0]


# -- DeferredLock --------------------------------------------------------------------


def test_lock_acquire_release_fifo() -> None:
    """The lock is given to waiters in FIFO order."""
    lock = DeferredLock()
    order: list[str] = []
    first = lock.acquire()
    assert lock.locked and outcome(first) is lock
    lock.acquire().addCallback(lambda _: order.append("second"))
    lock.acquire().addCallback(lambda _: order.append("third"))
    assert order == []
    lock.release()
    assert order == ["second"]
    lock.release()
    assert order == ["second", "third"]
    lock.release()
    assert not lock.locked


def test_lock_release_unlocked_is_an_error() -> None:
    """Releasing an unlocked lock is an assertion error."""
    with pytest.raises(AssertionError):
        DeferredLock().release()


def test_lock_cancel_waiting_acquire() -> None:
    """Cancelling a waiting acquire removes it from the line."""
    lock = DeferredLock()
    lock.acquire()
    waiting = lock.acquire()
    waiting.cancel()
    assert outcome(waiting).check(CancelledError)
    assert lock.waiting == []
    lock.release()
    assert not lock.locked


def test_lock_run_holds_lock_until_deferred_fires() -> None:
    """run() releases only when the function's Deferred fires."""
    lock = DeferredLock()
    inner: Deferred[str] = Deferred()
    d = lock.run(lambda x: inner.addCallback(lambda r: r + x), "!")
    assert lock.locked
    inner.callback("done")
    assert outcome(d) == "done!"
    assert not lock.locked


def test_lock_run_releases_on_failure() -> None:
    """run() releases when the function fails."""
    lock = DeferredLock()
    d = lock.run(lambda: fail(KeyError()))
    assert outcome(d).check(KeyError)
    assert not lock.locked


def test_lock_run_with_coroutine_function() -> None:
    """run() accepts a coroutine function."""
    lock = DeferredLock()

    async def work() -> str:
        assert lock.locked
        return "coro"

    assert outcome(lock.run(work)) == "coro"
    assert not lock.locked


def test_lock_async_with() -> None:
    """async with lock: acquires and releases."""
    lock = DeferredLock()
    seen: list[bool] = []

    async def main() -> None:
        async with lock as held:
            seen.append(held is lock and lock.locked)
        seen.append(lock.locked)

    ensureDeferred(main())
    assert seen == [True, False]


def test_lock_async_with_releases_on_exception() -> None:
    """An exception inside async with releases the lock and propagates."""
    lock = DeferredLock()

    async def main() -> None:
        async with lock:
            raise KeyError("inside")

    assert outcome(ensureDeferred(main())).check(KeyError)
    assert not lock.locked


def test_lock_serialises_coroutines() -> None:
    """Coroutines using async with run their critical sections one at a time."""
    lock = DeferredLock()
    gates: list[Deferred[None]] = [Deferred(), Deferred()]
    log: list[str] = []

    async def worker(i: int) -> None:
        async with lock:
            log.append(f"in {i}")
            await gates[i]
            log.append(f"out {i}")

    ensureDeferred(worker(0))
    ensureDeferred(worker(1))
    assert log == ["in 0"]
    gates[0].callback(None)
    assert log == ["in 0", "out 0", "in 1"]
    gates[1].callback(None)
    assert log[-1] == "out 1"


# -- DeferredSemaphore ------------------------------------------------------------------


def test_semaphore_tokens() -> None:
    """At most `tokens` holders; the next waiter gets the released token."""
    sem = DeferredSemaphore(2)
    a, b, c = sem.acquire(), sem.acquire(), sem.acquire()
    assert a.called and b.called and not c.called
    assert sem.tokens == 0 and sem.limit == 2
    sem.release()
    assert c.called and sem.tokens == 0
    sem.release()
    sem.release()
    assert sem.tokens == 2


def test_semaphore_needs_a_token() -> None:
    """DeferredSemaphore(0) is refused."""
    with pytest.raises(ValueError):
        DeferredSemaphore(0)


def test_semaphore_over_release_is_an_error() -> None:
    """Releasing more than acquired is an assertion error."""
    with pytest.raises(AssertionError):
        DeferredSemaphore(1).release()


def test_semaphore_cancel_waiting_acquire() -> None:
    """A cancelled waiting acquire leaves the line."""
    sem = DeferredSemaphore(1)
    sem.acquire()
    waiting = sem.acquire()
    waiting.cancel()
    assert sem.waiting == []
    outcome(waiting)


def test_semaphore_run_limits_concurrency() -> None:
    """run() lets only `tokens` functions be in progress at once."""
    sem = DeferredSemaphore(2)
    gates: list[Deferred[int]] = [Deferred() for _ in range(4)]
    started: list[int] = []

    def work(i: int) -> Deferred[int]:
        started.append(i)
        return gates[i]

    results = [sem.run(work, i) for i in range(4)]
    assert started == [0, 1]
    gates[1].callback(1)
    assert started == [0, 1, 2]
    for g in (gates[0], gates[2]):
        g.callback(0)
    assert started == [0, 1, 2, 3]
    gates[3].callback(3)
    assert [outcome(r) for r in results] == [0, 1, 0, 3]
    assert sem.tokens == 2


def test_semaphore_async_with() -> None:
    """async with semaphore: takes and returns a token."""
    sem = DeferredSemaphore(1)
    seen: list[int] = []

    async def main() -> None:
        async with sem:
            seen.append(sem.tokens)
        seen.append(sem.tokens)

    ensureDeferred(main())
    assert seen == [0, 1]


# -- DeferredQueue -------------------------------------------------------------------------


def test_queue_put_then_get() -> None:
    """Objects put before get are returned in order, at once."""
    q: DeferredQueue[int] = DeferredQueue()
    q.put(1)
    q.put(2)
    assert outcome(q.get()) == 1
    assert outcome(q.get()) == 2


def test_queue_get_waits_for_put() -> None:
    """A get before any put fires when an object arrives (oldest waiter first)."""
    q: DeferredQueue[str] = DeferredQueue()
    first, second = q.get(), q.get()
    q.put("a")
    assert outcome(first) == "a" and not second.called
    q.put("b")
    assert outcome(second) == "b"


def test_queue_size_limit() -> None:
    """put on a full queue raises QueueOverflow."""
    q: DeferredQueue[int] = DeferredQueue(size=1)
    q.put(1)
    with pytest.raises(QueueOverflow):
        q.put(2)


def test_queue_backlog_limit() -> None:
    """Too many waiting gets raise QueueUnderflow."""
    q: DeferredQueue[int] = DeferredQueue(backlog=1)
    q.get()
    with pytest.raises(QueueUnderflow):
        q.get()


def test_queue_cancel_get() -> None:
    """Cancelling a waiting get removes it; the next put goes to the next waiter."""
    q: DeferredQueue[int] = DeferredQueue()
    a, b = q.get(), q.get()
    a.cancel()
    assert q.waiting == [b]
    q.put(5)
    assert outcome(b) == 5
    outcome(a)


def test_queue_awaited_by_coroutine() -> None:
    """A coroutine consuming a queue with await."""
    q: DeferredQueue[int] = DeferredQueue()
    got: list[int] = []

    async def consumer() -> None:
        while True:
            item = await q.get()
            if item < 0:
                return
            got.append(item)

    done = ensureDeferred(consumer())
    for i in [1, 2, 3, -1]:
        q.put(i)
    assert got == [1, 2, 3] and done.called
