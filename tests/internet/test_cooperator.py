"""Cooperator, cooperate, coiterate: unit tests and a differential against Twisted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer as tdefer
from twisted.internet import task as ttask

from tests.support import runUntil
from torsion.internet import defer as xdefer
from torsion.internet import task as xtask
from torsion.internet.defer import Deferred
from torsion.internet.task import (
    Cooperator,
    NotPaused,
    SchedulerStopped,
    TaskDone,
    TaskFailed,
    TaskStopped,
)


class Scheduler:
    """A manual scheduler: ticks run only when the test says so."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, f: Callable[[], None]) -> Any:
        self.pending.append(f)
        scheduler = self

        class Handle:
            def cancel(self) -> None:
                scheduler.pending.remove(f)

        return Handle()

    def tick(self) -> None:
        pending, self.pending = self.pending, []
        for f in pending:
            f()


def units(n: int) -> Callable[[], Callable[[], bool]]:
    """A termination predicate factory allowing ``n`` work units per tick."""

    def factory() -> Callable[[], bool]:
        count = [0]

        def done() -> bool:
            count[0] += 1
            return count[0] >= n

        return done

    return factory


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box
    return box[0]


def test_tasks_run_round_robin() -> None:
    """Tasks take turns, one unit each, within a tick's budget."""
    sched = Scheduler()
    coop = Cooperator(terminationPredicateFactory=units(4), scheduler=sched)
    log: list[str] = []

    def worker(name: str, n: int) -> Iterator[None]:
        for i in range(n):
            log.append(f"{name}{i}")
            yield None

    a = coop.coiterate(worker("a", 3))
    b = coop.coiterate(worker("b", 3))
    sched.tick()
    assert log == ["a0", "b0", "a1", "b1"]
    sched.tick()
    sched.tick()
    assert sorted(log) == sorted(["a0", "a1", "a2", "b0", "b1", "b2"])
    assert a.called and b.called
    assert sched.pending == []


def test_whenDone_fires_with_iterator() -> None:
    """whenDone fires with the exhausted iterator."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)
    it = iter([1, 2])
    t = coop.cooperate(it)
    done = t.whenDone()
    while sched.pending:
        sched.tick()
    assert outcome(done) is it
    assert outcome(t.whenDone()) is it
    with pytest.raises(TaskDone):
        t.pause()


def test_yielded_deferred_pauses_task() -> None:
    """A yielded Deferred pauses the task until it fires."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)
    gate: Deferred[None] = Deferred()
    log: list[str] = []

    def work() -> Iterator[Any]:
        log.append("before")
        yield gate
        log.append("after")

    d = coop.coiterate(work())
    sched.tick()
    assert log == ["before"] and sched.pending == []
    gate.callback(None)
    sched.tick()
    assert log == ["before", "after"] and d.called


def test_iterator_error_fails_task() -> None:
    """An exception from the iterator fails whenDone."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)

    def work() -> Iterator[None]:
        yield None
        raise KeyError("work")

    t = coop.cooperate(work())
    d = t.whenDone()
    sched.tick()
    sched.tick()
    assert outcome(d).check(KeyError)
    with pytest.raises(TaskFailed):
        t.stop()


def test_failed_yielded_deferred_fails_task() -> None:
    """A yielded Deferred that fails ends the task with that failure."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)

    def work() -> Iterator[Any]:
        yield xdefer.fail(ValueError("inner"))

    d = coop.coiterate(work())
    sched.tick()
    assert outcome(d).check(ValueError)


def test_pause_resume_stop() -> None:
    """pause/resume nest; stop ends the task with TaskStopped."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)
    log: list[int] = []
    t = coop.cooperate(iter(lambda: log.append(1), 0))
    t.pause()
    t.pause()
    assert sched.pending == []
    t.resume()
    assert sched.pending == []
    t.resume()
    with pytest.raises(NotPaused):
        t.resume()
    sched.tick()
    assert log
    d = t.whenDone()
    t.stop()
    assert outcome(d).check(TaskStopped)
    with pytest.raises(TaskStopped):
        t.pause()


def test_stop_cooperator_fails_every_task() -> None:
    """Cooperator.stop() fails every task with SchedulerStopped (Twisted skips some)."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched)
    ds = [coop.coiterate(iter(range(5))) for _ in range(4)]
    coop.stop()
    assert all(outcome(d).check(SchedulerStopped) for d in ds)
    assert not coop.running
    late = coop.coiterate(iter(range(2)))
    assert outcome(late).check(SchedulerStopped)


def test_not_started_cooperator_waits_for_start() -> None:
    """With started=False, nothing is scheduled until start()."""
    sched = Scheduler()
    coop = Cooperator(scheduler=sched, started=False)
    d = coop.coiterate(iter([1]))
    assert sched.pending == [] and not coop.running
    coop.start()
    assert coop.running
    sched.tick()
    sched.tick()
    assert d.called


def test_default_timer_slices_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default termination predicate ends a slice after MAX_SLICE seconds."""
    from torsion.internet import _cooperator

    now = [100.0]
    monkeypatch.setattr(_cooperator.time, "monotonic", lambda: now[0])
    timer = _cooperator._Timer()
    assert not timer()
    now[0] += _cooperator._Timer.MAX_SLICE
    assert timer()


def test_global_cooperate_on_real_reactor(reactor: Any) -> None:
    """coiterate on a Cooperator scheduled by a real reactor."""
    coop = Cooperator(scheduler=lambda f: reactor.callLater(0, f))
    got: list[int] = []

    def work() -> Iterator[None]:
        for i in range(100):
            got.append(i)
            yield None

    runUntil(reactor, coop.coiterate(work()))
    assert got == list(range(100))


# -- differential -----------------------------------------------------------------------------


def run_coop(lib: str, budget: int, plan: list[tuple[str, int]], events: list[str]) -> list[Any]:
    defer, task = (tdefer, ttask) if lib == "twisted" else (xdefer, xtask)
    sched = Scheduler()
    coop = task.Cooperator(terminationPredicateFactory=units(budget), scheduler=sched)
    trace: list[Any] = []
    tasks: list[Any] = []
    gates: list[Any] = []

    def worker(i: int, kind: str, n: int) -> Iterator[Any]:
        for step in range(n):
            trace.append(("work", i, step))
            if kind == "deferred" and step == 1:
                gate = defer.Deferred()
                gates.append(gate)
                yield gate
            elif kind == "raise" and step == n - 1:
                raise ValueError(i)
            else:
                yield step

    for i, (kind, n) in enumerate(plan):
        t = coop.cooperate(worker(i, kind, n))
        tasks.append(t)
        t.whenDone().addBoth(
            lambda r, i=i: trace.append(("done", i, type(getattr(r, "value", r)).__name__))
        )
    for e in events:
        try:
            if e == "tick":
                sched.tick()
            elif e.startswith(("pause", "resume", "stop")) and tasks:
                action, index = e.split()
                getattr(tasks[int(index) % len(tasks)], action)()
            elif e == "gate" and gates:
                gate = gates.pop(0)
                gate.callback(None)
                # A task resumed by hand before its Deferred fired makes the
                # Deferred's own resume() fail with NotPaused (in both).
                gate.addErrback(lambda f: trace.append(("gate error", f.type.__name__)))
            trace.append(("ok", e, len(sched.pending)))
        except Exception as ex:
            trace.append(("raised", e, type(ex).__name__))
    return trace


@settings(max_examples=300, deadline=None)
@given(
    budget=st.integers(1, 4),
    plan=st.lists(
        st.tuples(st.sampled_from(["plain", "deferred", "raise"]), st.integers(1, 4)), max_size=3
    ),
    events=st.lists(
        st.sampled_from(
            ["tick", "tick", "gate", "pause 0", "resume 0", "stop 1", "pause 1", "resume 1"]
        ),
        max_size=12,
    ),
)
def test_cooperator_matches_twisted(
    budget: int, plan: list[tuple[str, int]], events: list[str]
) -> None:
    """Task interleaving, pausing, stopping and results match Twisted's Cooperator."""
    assert run_coop("torsion", budget, plan, events) == run_coop("twisted", budget, plan, events)
