"""torsion.internet.task: Clock, LoopingCall (differential against Twisted),
deferLater, react."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.internet import looping_scenarios
from torsion.internet import defer, error, task
from torsion.internet.defer import CancelledError, Deferred, succeed
from torsion.internet.task import Clock, LoopingCall, deferLater, react
from torsion.python.failure import Failure

ROOT = Path(__file__).resolve().parents[2]


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has not fired"
    return box[0]


# -- Clock ----------------------------------------------------------------------------


def test_clock_runs_due_calls_in_time_order() -> None:
    """advance() runs the calls that became due, earliest first."""
    clock = Clock()
    order: list[str] = []
    clock.callLater(2, order.append, "b")
    clock.callLater(1, order.append, "a")
    clock.callLater(3, order.append, "c")
    clock.advance(2)
    assert order == ["a", "b"]
    assert clock.seconds() == 2
    assert [c.getTime() for c in clock.getDelayedCalls()] == [3]
    clock.pump([0.5, 0.5])
    assert order == ["a", "b", "c"]


def test_clock_calls_scheduled_while_advancing() -> None:
    """A call scheduled for now by a running call runs in the same advance."""
    clock = Clock()
    order: list[int] = []

    def first() -> None:
        order.append(1)
        clock.callLater(0, order.append, 2)

    clock.callLater(1, first)
    clock.advance(1)
    assert order == [1, 2]
    assert clock.getDelayedCalls() == []


def test_clock_cancel_and_reset() -> None:
    """Cancelled calls do not run; reset moves a call."""
    clock = Clock()
    seen: list[str] = []
    a = clock.callLater(1, seen.append, "a")
    b = clock.callLater(1, seen.append, "b")
    a.cancel()
    b.reset(5)
    clock.advance(1)
    assert seen == []
    clock.advance(4)
    assert seen == ["b"]
    assert not b.active()
    with pytest.raises(error.AlreadyCalled):
        b.cancel()
    with pytest.raises(error.AlreadyCancelled):
        a.cancel()


# -- LoopingCall: differential against Twisted ---------------------------------------------


@pytest.fixture(scope="module")
def twisted_looping() -> dict[str, Any]:
    """The scenario traces produced by Twisted's LoopingCall (in a subprocess)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "tests.internet.looping_scenarios", "twisted"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("name", sorted(looping_scenarios.SCENARIOS))
def test_looping_call_matches_twisted(name: str, twisted_looping: dict[str, Any]) -> None:
    """LoopingCall call times, counts, results and errors match Twisted's."""
    trace: list[Any] = []
    looping_scenarios.SCENARIOS[name](task, defer, trace)
    mine = json.loads(json.dumps(trace))
    assert mine == twisted_looping[name]
    assert mine, "the scenario recorded nothing"


# -- LoopingCall: unit tests ------------------------------------------------------------


def test_looping_call_interval_boundaries_skip_missed_calls() -> None:
    """Calls land on start + k*interval; missed boundaries are skipped."""
    clock = Clock()
    times: list[float] = []
    lc = LoopingCall(lambda: times.append(clock.seconds()))
    lc.clock = clock
    lc.start(1)
    clock.advance(1)
    clock.advance(3.5)  # boundaries 2, 3, 4 missed: one call at 4.5
    clock.advance(0.5)  # next boundary: 5
    assert times == [0, 1, 4.5, 5]
    lc.stop()


def test_looping_call_start_deferred_fires_with_self_on_stop() -> None:
    """The Deferred from start() fires with the LoopingCall when stopped."""
    clock = Clock()
    lc = LoopingCall(lambda: None)
    lc.clock = clock
    d = lc.start(1)
    assert lc.running
    lc.stop()
    assert outcome(d) is lc
    assert not lc.running
    assert clock.getDelayedCalls() == []


def test_looping_call_waits_for_returned_deferred() -> None:
    """No new call is scheduled until the returned Deferred fires."""
    clock = Clock()
    pending: list[Deferred[None]] = []

    def f() -> Deferred[None]:
        pending.append(Deferred())
        return pending[-1]

    lc = LoopingCall(f)
    lc.clock = clock
    lc.start(1)
    clock.advance(5)
    assert len(pending) == 1 and clock.getDelayedCalls() == []
    pending[0].callback(None)
    clock.advance(1)
    assert len(pending) == 2
    lc.stop()
    pending[1].callback(None)


def test_looping_call_failure_stops_and_errbacks() -> None:
    """An exception from f fails the start() Deferred and stops the loop."""
    clock = Clock()

    def f() -> None:
        raise KeyError("f")

    lc = LoopingCall(f)
    lc.clock = clock
    d = lc.start(1)
    assert not lc.running
    assert outcome(d).check(KeyError)


def test_looping_call_with_coroutine_function() -> None:
    """f may be a coroutine function; its coroutine is awaited before the next call."""
    clock = Clock()
    gate: Deferred[None] = Deferred()
    seen: list[str] = []

    async def f() -> None:
        seen.append("start")
        await gate
        seen.append("end")

    lc = LoopingCall(f)
    lc.clock = clock
    lc.start(1)
    clock.advance(3)
    assert seen == ["start"]
    gate.callback(None)
    assert seen == ["start", "end"]
    lc.stop()


def test_looping_call_passes_arguments() -> None:
    """Positional and keyword arguments reach f."""
    clock = Clock()
    seen: list[Any] = []
    lc = LoopingCall(lambda *a, **k: seen.append((a, k)), 1, 2, x=3)
    lc.clock = clock
    lc.start(1)
    lc.stop()
    assert seen == [((1, 2), {"x": 3})]


def test_looping_call_clock_defaults_lazily_to_global_reactor() -> None:
    """Creating a LoopingCall does not create the global reactor."""
    before = "torsion.internet.reactor" in sys.modules
    lc = LoopingCall(lambda: None)
    assert ("torsion.internet.reactor" in sys.modules) == before
    clock = Clock()
    lc.clock = clock
    assert lc.clock is clock


def test_looping_call_deferred_attribute_is_deprecated() -> None:
    """LoopingCall.deferred warns, as in Twisted."""
    lc = LoopingCall(lambda: None)
    lc.clock = Clock()
    d = lc.start(1)
    with pytest.deprecated_call():
        assert lc.deferred is d
    lc.stop()


# -- deferLater -------------------------------------------------------------------------


def test_deferLater_calls_after_delay() -> None:
    """deferLater fires with the callable's result after the delay."""
    clock = Clock()
    d = deferLater(clock, 3, lambda a, b: a + b, 1, b=2)
    clock.advance(2.9)
    assert not d.called
    clock.advance(0.1)
    assert outcome(d) == 3


def test_deferLater_without_callable_fires_none() -> None:
    """Without a callable the Deferred fires with None."""
    clock = Clock()
    d: Deferred[None] = deferLater(clock, 1)
    clock.advance(1)
    assert outcome(d) is None


def test_deferLater_exception_fails_deferred() -> None:
    """An exception from the callable fails the Deferred."""
    clock = Clock()
    d = deferLater(clock, 1, lambda: 1 / 0)
    clock.advance(1)
    assert outcome(d).check(ZeroDivisionError)


def test_deferLater_cancel_cancels_delayed_call() -> None:
    """Cancelling the Deferred cancels the pending call."""
    clock = Clock()
    called: list[int] = []
    d = deferLater(clock, 1, called.append, 1)
    d.cancel()
    assert clock.getDelayedCalls() == []
    assert outcome(d).check(CancelledError)
    clock.advance(2)
    assert called == []


def test_deferLater_on_real_reactor(reactor: Any) -> None:
    """deferLater works with the real reactor's callLater."""
    from tests.support import runUntil

    assert runUntil(reactor, deferLater(reactor, 0.01, lambda: "real")) == "real"


# -- react -------------------------------------------------------------------------------


class FakeReactor:
    """Just enough of a reactor for react(): triggers, callWhenRunning, run/stop."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.callLater = self.clock.callLater
        self.running = False
        self.stopCount = 0
        self._triggers: list[tuple[str, str, Callable[..., Any], tuple[Any, ...]]] = []
        self._whenRunning: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def addSystemEventTrigger(self, phase: str, event: str, f: Callable[..., Any], *a: Any) -> Any:
        self._triggers.append((phase, event, f, a))
        return len(self._triggers)

    def callWhenRunning(self, f: Callable[..., Any], *a: Any) -> None:
        if self.running:
            f(*a)
        else:
            self._whenRunning.append((f, a))

    def stop(self) -> None:
        if not self.running:
            raise error.ReactorNotRunning()
        self.stopCount += 1
        for phase, event, f, a in self._triggers:
            if (phase, event) == ("before", "shutdown"):
                f(*a)
        self.running = False

    def run(self) -> None:
        self.running = True
        for f, a in self._whenRunning:
            f(*a)
        while self.running:
            calls = self.clock.getDelayedCalls()
            assert calls, "react() would hang: nothing scheduled and not stopped"
            self.clock.advance(calls[0].getTime() - self.clock.seconds())


def test_react_exits_0_on_success() -> None:
    """react exits with code 0 when main's Deferred succeeds, after stopping once."""
    fake = FakeReactor()
    with pytest.raises(SystemExit) as info:
        react(lambda r: deferLater(r.clock, 1, lambda: "ok"), _reactor=fake)
    assert info.value.code == 0
    assert fake.stopCount == 1


def test_react_exits_1_on_failure_and_logs(logged_errors: Any) -> None:
    """A failing main exits with 1 and the failure is logged."""
    fake = FakeReactor()
    with pytest.raises(SystemExit) as info:
        react(lambda r: deferLater(r.clock, 1, lambda: 1 / 0), _reactor=fake)
    assert info.value.code == 1
    [failure] = logged_errors.flush(ZeroDivisionError)
    assert isinstance(failure, Failure)


def test_react_uses_SystemExit_code() -> None:
    """A SystemExit from main gives its code."""
    fake = FakeReactor()

    def main(r: Any) -> Deferred[Any]:
        def bye() -> None:
            raise SystemExit(3)

        return deferLater(r.clock, 1, bye)

    with pytest.raises(SystemExit) as info:
        react(main, _reactor=fake)
    assert info.value.code == 3


def test_react_with_coroutine_and_argv() -> None:
    """main may be a coroutine function; argv items are passed after the reactor."""
    fake = FakeReactor()
    seen: list[Any] = []

    async def main(r: Any, a: str, b: str) -> None:
        seen.append((r, a, b))
        await deferLater(r.clock, 1)

    with pytest.raises(SystemExit) as info:
        react(main, ["x", "y"], _reactor=fake)
    assert info.value.code == 0
    assert seen == [(fake, "x", "y")]


def test_react_when_main_stops_the_reactor() -> None:
    """If main stops the reactor itself, react does not stop it again."""
    fake = FakeReactor()

    def main(r: Any) -> Deferred[None]:
        d: Deferred[None] = Deferred()

        def stopThenFire() -> None:
            r.stop()
            d.callback(None)

        r.callLater(1, stopThenFire)
        return d

    with pytest.raises(SystemExit) as info:
        react(main, _reactor=fake)
    assert info.value.code == 0
    assert fake.stopCount == 1


def test_react_with_already_fired_deferred() -> None:
    """A main returning a fired Deferred stops the reactor once it runs."""
    fake = FakeReactor()
    with pytest.raises(SystemExit) as info:
        react(lambda r: succeed(None), _reactor=fake)
    assert info.value.code == 0 and fake.stopCount == 1


def test_react_on_real_reactor(reactor: Any) -> None:
    """react drives a real AsyncioReactor to completion."""

    async def main(r: Any) -> None:
        await deferLater(r, 0.01)

    with pytest.raises(SystemExit) as info:
        react(main, _reactor=reactor)
    assert info.value.code == 0
    assert not reactor.running


def test_twisted_react_matches_exit_codes(logged_errors: Any) -> None:
    """Twisted's react gives the same exit codes for the same mains (with the fake reactor)."""
    from twisted.internet import defer as tdefer
    from twisted.internet import task as ttask

    from torsion.internet import defer as xdefer

    def mains(defer: Any, tasks: Any) -> dict[str, Callable[[Any], Any]]:
        def exit4() -> None:
            raise SystemExit(4)

        return {
            "ok": lambda r: defer.succeed(None),
            "fail": lambda r: tasks.deferLater(r.clock, 1, lambda: 1 / 0),
            "exit": lambda r: tasks.deferLater(r.clock, 1, exit4),
        }

    codes: dict[tuple[str, str], Any] = {}
    for lib, deferModule, tasks in (("torsion", xdefer, task), ("twisted", tdefer, ttask)):
        for name, main in mains(deferModule, tasks).items():
            with pytest.raises(SystemExit) as info:
                tasks.react(main, _reactor=FakeReactor())
            codes[(name, lib)] = info.value.code
    for name in ("ok", "fail", "exit"):
        assert codes[(name, "torsion")] == codes[(name, "twisted")], name
    assert codes[("exit", "torsion")] == 4
    assert logged_errors.flush(ZeroDivisionError)
