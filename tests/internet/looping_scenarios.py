"""LoopingCall scenarios run on Twisted (in a subprocess) and on torsion.

Twisted's ``LoopingCall()`` imports (and so installs) Twisted's global
reactor, which must not happen in the pytest process; the Twisted side runs
as ``python -m tests.internet.looping_scenarios twisted`` and prints JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

Scenario = Callable[[Any, Any, list[Any]], None]


def _describe(x: Any) -> Any:
    if hasattr(x, "getErrorMessage"):
        return ["failure", x.type.__name__, x.getErrorMessage()]
    if type(x).__name__ == "LoopingCall":
        return ["self"]
    return ["value", repr(x)]


def _record(trace: list[Any], label: str) -> Callable[[Any], None]:
    def done(result: Any) -> None:
        trace.append([label, _describe(result)])

    return done


def _make(task: Any, clock: Any, f: Callable[..., Any], *a: Any) -> Any:
    lc = task.LoopingCall(f, *a)
    lc.clock = clock
    return lc


def basic(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def f(tag: str) -> None:
        trace.append(["call", tag, clock.seconds()])

    lc = _make(task, clock, f, "x")
    lc.start(1.0).addBoth(_record(trace, "done"))
    for step in [1, 1, 2.5, 0.5, 0.25, 0.75, 3.2, 0.1]:
        clock.advance(step)
    trace.append(["running", lc.running, lc.starttime, lc.interval])
    lc.stop()
    trace.append(["running", lc.running, len(clock.getDelayedCalls())])


def not_now(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    clock.advance(10)
    lc = _make(task, clock, lambda: trace.append(["call", clock.seconds()]))
    lc.start(2, now=False).addBoth(_record(trace, "done"))
    trace.append(["after start"])
    for step in [1, 1, 1, 4.5, 0.5]:
        clock.advance(step)
    lc.stop()


def deferred_result(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def f() -> Any:
        trace.append(["call", clock.seconds()])
        return task.deferLater(clock, 2.5, lambda: trace.append(["inner", clock.seconds()]))

    lc = _make(task, clock, f)
    lc.start(1).addBoth(_record(trace, "done"))
    for _ in range(12):
        clock.advance(1)
    lc.stop()
    trace.append(["stopped", lc.running])
    clock.advance(5)


def stop_while_waiting(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    pending = defer.Deferred()
    lc = _make(task, clock, lambda: pending)
    lc.start(1).addBoth(_record(trace, "done"))
    lc.stop()
    trace.append(["stopped", lc.running])
    pending.callback(None)
    trace.append(["after fire", lc.running])


def with_count(task: Any, defer: Any, trace: list[Any]) -> None:
    for now in (True, False):
        clock = task.Clock()
        lc = task.LoopingCall.withCount(
            lambda n, clock=clock: trace.append(["count", clock.seconds(), n])
        )
        lc.clock = clock
        lc.start(1, now=now).addBoth(_record(trace, "done"))
        for step in [0.5, 0.5, 1, 3, 0.2, 0.9, 7.5]:
            clock.advance(step)
        lc.stop()


def with_count_slow_deferred(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def counted(n: int) -> Any:
        trace.append(["count", clock.seconds(), n])
        return task.deferLater(clock, 3.5)

    lc = task.LoopingCall.withCount(counted)
    lc.clock = clock
    lc.start(1)
    for _ in range(12):
        clock.advance(1)
    lc.stop()
    clock.advance(10)


def zero_interval(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    calls = [0]

    def f() -> None:
        calls[0] += 1
        trace.append(["call", clock.seconds(), calls[0]])
        if calls[0] == 4:
            lc.stop()

    lc = _make(task, clock, f)
    lc.start(0).addBoth(_record(trace, "done"))
    clock.advance(0)
    clock.advance(0)


def zero_interval_count(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def counted(n: int) -> None:
        trace.append(["count", clock.seconds(), n])
        if len(trace) >= 3:
            lc.stop()

    lc = task.LoopingCall.withCount(counted)
    lc.clock = clock
    lc.start(0)
    clock.advance(0)


def failing(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    calls = [0]

    def f() -> Any:
        calls[0] += 1
        trace.append(["call", clock.seconds()])
        if calls[0] == 3:
            raise ValueError("third")
        return None

    lc = _make(task, clock, f)
    lc.start(1).addBoth(_record(trace, "done"))
    for _ in range(5):
        clock.advance(1)
    trace.append(["running", lc.running, len(clock.getDelayedCalls())])


def failing_deferred(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    lc = _make(task, clock, lambda: defer.fail(KeyError("from deferred")))
    lc.start(1).addBoth(_record(trace, "done"))
    trace.append(["running", lc.running, len(clock.getDelayedCalls())])


def first_call_fails(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def f() -> None:
        raise RuntimeError("at once")

    lc = _make(task, clock, f)
    lc.start(1).addBoth(_record(trace, "done"))
    trace.append(["running", lc.running])


def reset(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    lc = _make(task, clock, lambda: trace.append(["call", clock.seconds()]))
    lc.start(2)
    clock.advance(1.5)
    lc.reset()
    trace.append(["reset", lc.starttime])
    for _ in range(6):
        clock.advance(1)
    lc.stop()


def misuse(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    lc = _make(task, clock, lambda: None)
    for action in ("stop", "reset", "negative", "start", "start again"):
        try:
            if action == "stop":
                lc.stop()
            elif action == "reset":
                lc.reset()
            elif action == "negative":
                lc.start(-1)
            else:
                lc.start(1)
            trace.append([action, "ok"])
        except Exception as e:
            trace.append([action, type(e).__name__])
    lc.stop()


def fractional(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()
    clock.advance(1e9)
    lc = _make(task, clock, lambda: trace.append(["call", round(clock.seconds() - 1e9, 6)]))
    lc.start(0.1)
    for _ in range(25):
        clock.advance(0.1)
    clock.advance(0.35)
    lc.stop()


def repr_and_attrs(task: Any, defer: Any, trace: list[Any]) -> None:
    clock = task.Clock()

    def named() -> None:
        pass

    lc = _make(task, clock, named)
    trace.append(["repr", repr(lc).replace("repr_and_attrs.<locals>.", "")])
    lc.start(5)
    trace.append(["repr", repr(lc).replace("repr_and_attrs.<locals>.", "")])
    trace.append(["attrs", lc.f is named, lc.a, lc.kw, lc.interval, lc.running])
    lc.stop()


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in [
        basic,
        not_now,
        deferred_result,
        stop_while_waiting,
        with_count,
        with_count_slow_deferred,
        zero_interval,
        zero_interval_count,
        failing,
        failing_deferred,
        first_call_fails,
        reset,
        misuse,
        fractional,
        repr_and_attrs,
    ]
}


def run_all(lib: str) -> dict[str, list[Any]]:
    """Run every scenario on ``lib`` (``'twisted'`` or ``'torsion'``)."""
    if lib == "twisted":
        from twisted.internet import defer, task
    else:
        from torsion.internet import defer, task  # type: ignore[no-redef]
    out = {}
    for name, scenario in SCENARIOS.items():
        trace: list[Any] = []
        scenario(task, defer, trace)
        out[name] = trace
    return out


if __name__ == "__main__":
    json.dump(run_all(sys.argv[1]), sys.stdout)
