"""Deferred chain rules (Twisted: twisted/test/test_defer.py), one rule per test."""

from __future__ import annotations

import gc
import sys
import warnings
from typing import Any

import pytest

from torsion.internet import defer
from torsion.internet.defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    TimeoutError,
    execute,
    fail,
    maybeDeferred,
    passthru,
    succeed,
)
from torsion.internet.task import Clock
from torsion.python.failure import Failure, NoCurrentExceptionError


def result_of(d: Deferred[Any]) -> Any:
    """The current result of a fired, unpaused Deferred, left in place."""
    box: list[Any] = []
    d.addBoth(lambda r: box.append(r) or r)
    assert box, f"{d!r} has no result"
    return box[0]


# -- firing and the callback/errback paths --------------------------------------


def test_callback_runs_callbacks_in_order() -> None:
    """Callbacks run in the order added, each getting the previous result."""
    seen: list[Any] = []
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r: seen.append(("a", r)) or r + 1)
    d.addCallback(lambda r: seen.append(("b", r)) or r * 10)
    d.callback(1)
    assert seen == [("a", 1), ("b", 2)]
    assert d.result == 20
    assert d.called


def test_callbacks_added_after_firing_run_at_once() -> None:
    """A callback added to a fired Deferred runs immediately."""
    d = succeed(3)
    seen: list[int] = []
    d.addCallback(seen.append)
    assert seen == [3]
    assert d.result is None  # append returned None


def test_raising_callback_switches_to_errback_path() -> None:
    """A callback that raises sends a Failure down the errback path."""
    d: Deferred[int] = Deferred()
    seen: list[Any] = []

    def boom(_: int) -> None:
        raise ValueError("boom")

    d.addCallback(boom)
    d.addCallback(lambda r: seen.append(("cb", r)))
    d.addErrback(lambda f: seen.append(("eb", f.type, f.getErrorMessage())) or "recovered")
    d.addCallback(lambda r: seen.append(("cb2", r)))
    d.callback(1)
    assert seen == [("eb", ValueError, "boom"), ("cb2", "recovered")]


def test_callback_returning_failure_switches_to_errback_path() -> None:
    """A callback returning a Failure is the same as raising."""
    d: Deferred[int] = Deferred()
    d.addCallback(lambda _: Failure(KeyError("k")))
    d.callback(0)
    f = result_of(d)
    assert isinstance(f, Failure) and f.check(KeyError)
    d.addErrback(lambda _: None)


def test_errback_returning_failure_stays_on_errback_path() -> None:
    """An errback returning a Failure (or raising) keeps the error path."""
    d: Deferred[Any] = Deferred()
    seen: list[str] = []
    d.addErrback(lambda f: seen.append("eb1") or f)
    d.addCallback(lambda _: seen.append("cb"))
    d.addErrback(lambda f: seen.append("eb2") or f.trap(ValueError))
    d.errback(ValueError())
    assert seen == ["eb1", "eb2"]
    assert d.result is ValueError


def test_addCallbacks_passes_args_and_keywords() -> None:
    """addCallbacks passes callbackArgs/Keywords or errbackArgs/Keywords."""
    seen: list[Any] = []
    d: Deferred[int] = Deferred()
    d.addCallbacks(
        lambda r, *a, **k: seen.append(("cb", r, a, k)),
        lambda f, *a, **k: seen.append(("eb", a, k)),
        callbackArgs=(1, 2),
        callbackKeywords={"x": 3},
        errbackArgs=(4,),
        errbackKeywords={"y": 5},
    )
    d.callback(0)
    e: Deferred[int] = Deferred()
    e.addCallbacks(
        lambda r, *a, **k: seen.append(("cb", r, a, k)),
        lambda f, *a, **k: seen.append(("eb", a, k)),
        callbackArgs=(1, 2),
        callbackKeywords={"x": 3},
        errbackArgs=(4,),
        errbackKeywords={"y": 5},
    )
    e.errback(ValueError())
    assert seen == [("cb", 0, (1, 2), {"x": 3}), ("eb", (4,), {"y": 5})]


def test_addCallback_addErrback_addBoth_pass_extra_arguments() -> None:
    """Extra positional and keyword arguments reach the callback."""
    seen: list[Any] = []
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r, a, b=None: seen.append((r, a, b)) or r, "A", b="B")
    d.addBoth(lambda r, a: seen.append((r, a)) or r, "C")
    d.addCallback(lambda r: 1 / 0)
    d.addErrback(lambda f, a: seen.append((f.type, a)), "E")
    d.callback(7)
    assert seen == [(7, "A", "B"), (7, "C"), (ZeroDivisionError, "E")]


def test_addCallbacks_without_errback_passes_failures_through() -> None:
    """addCallbacks(cb) with no errback lets a failure pass untouched."""
    d: Deferred[Any] = fail(ValueError("v"))
    d.addCallbacks(lambda _: "nope")
    assert result_of(d).check(ValueError)
    d.addErrback(lambda _: None)


def test_chaining_methods_return_self() -> None:
    """addCallback/addErrback/addBoth/addCallbacks/addTimeout return the Deferred."""
    d: Deferred[Any] = Deferred()
    assert d.addCallback(passthru) is d
    assert d.addErrback(passthru) is d
    assert d.addBoth(passthru) is d
    assert d.addCallbacks(passthru, passthru) is d
    clock = Clock()
    assert d.addTimeout(1, clock) is d
    d.callback(None)
    assert not clock.getDelayedCalls()


def test_errback_wraps_an_exception() -> None:
    """errback(exception) wraps it in a Failure."""
    d: Deferred[Any] = Deferred()
    exc = ValueError("x")
    d.errback(exc)
    f = result_of(d)
    assert isinstance(f, Failure) and f.value is exc
    d.addErrback(lambda _: None)


def test_errback_without_argument_captures_current_exception() -> None:
    """errback() inside an except clause captures that exception with its traceback."""
    d: Deferred[Any] = Deferred()
    try:
        raise KeyError("current")
    except KeyError:
        d.errback()
    f = result_of(d)
    assert f.check(KeyError) and f.tb is not None
    d.addErrback(lambda _: None)


def test_errback_without_argument_and_no_exception_raises() -> None:
    """errback() outside an except clause raises NoCurrentExceptionError."""
    d: Deferred[Any] = Deferred()
    with pytest.raises(NoCurrentExceptionError):
        d.errback()
    assert not d.called


def test_callback_with_failure_takes_errback_path() -> None:
    """callback(aFailure) behaves like errback(aFailure), as in Twisted."""
    d: Deferred[Any] = Deferred()
    seen: list[str] = []
    d.addCallbacks(lambda _: seen.append("cb"), lambda _: seen.append("eb"))
    d.callback(Failure(ValueError()))
    assert seen == ["eb"]


# -- AlreadyCalledError ----------------------------------------------------------


@pytest.mark.parametrize(
    "first,second",
    [("callback", "callback"), ("callback", "errback"), ("errback", "callback")],
)
def test_firing_twice_raises_already_called(first: str, second: str) -> None:
    """A second callback/errback raises AlreadyCalledError."""
    d: Deferred[Any] = Deferred()
    d.addErrback(lambda _: None)
    getattr(d, first)(ValueError() if first == "errback" else 1)
    with pytest.raises(AlreadyCalledError):
        getattr(d, second)(ValueError() if second == "errback" else 2)


def test_already_called_with_debugging_shows_stacks() -> None:
    """With debugging on, AlreadyCalledError says where it was created and first fired."""
    defer.setDebugging(True)
    try:
        assert defer.getDebugging()
        d: Deferred[int] = Deferred()
        d.callback(1)
        with pytest.raises(AlreadyCalledError) as info:
            d.callback(2)
    finally:
        defer.setDebugging(False)
    assert not defer.getDebugging()
    text = str(info.value)
    assert " C: Deferred was created:" in text
    assert " I: First Invoker was:" in text
    assert "test_already_called_with_debugging_shows_stacks" in text


# -- pause / unpause ------------------------------------------------------------


def test_pause_holds_callbacks_until_unpause() -> None:
    """pause() stops the chain; unpause() runs what was held."""
    d: Deferred[int] = Deferred()
    seen: list[int] = []
    d.pause()
    d.addCallback(seen.append)
    d.callback(1)
    assert seen == []
    assert d.paused == 1
    d.unpause()
    assert seen == [1]


def test_pause_counts_nested_calls() -> None:
    """Two pauses need two unpauses."""
    d = succeed(1)
    d.pause()
    d.pause()
    seen: list[int] = []
    d.addCallback(seen.append)
    d.unpause()
    assert seen == []
    d.unpause()
    assert seen == [1]


def test_unpause_of_unfired_deferred_runs_nothing() -> None:
    """Unpausing an unfired Deferred just lowers the count."""
    d: Deferred[int] = Deferred()
    d.pause()
    d.unpause()
    assert d.paused == 0 and not d.called


# -- a callback returning a Deferred ----------------------------------------------


def test_callback_returning_unfired_deferred_pauses_outer_chain() -> None:
    """The outer chain waits for a returned Deferred, then gets its result."""
    outer: Deferred[int] = Deferred()
    inner: Deferred[str] = Deferred()
    seen: list[Any] = []
    outer.addCallback(lambda _: inner)
    outer.addCallback(seen.append)
    outer.callback(1)
    assert seen == []
    assert outer.paused == 1
    assert "waiting on Deferred" in repr(outer)
    inner.callback("inner")
    assert seen == ["inner"]
    assert outer.paused == 0
    assert inner.result is None


def test_callback_returning_fired_deferred_takes_its_result() -> None:
    """A returned Deferred that already fired gives its result at once."""
    outer: Deferred[int] = Deferred()
    inner = succeed("x")
    outer.addCallback(lambda _: inner)
    outer.callback(0)
    assert outer.result == "x"
    assert inner.result is None


def test_returned_deferred_failure_moves_to_outer_and_is_not_unhandled(
    logged_errors: Any,
) -> None:
    """A returned failed Deferred hands its failure to the outer chain only."""

    def scenario() -> None:
        outer: Deferred[int] = Deferred()
        inner: Deferred[Any] = Deferred()
        outer.addCallback(lambda _: inner)
        outer.callback(0)
        inner.errback(ValueError("in"))
        assert result_of(outer).check(ValueError)
        outer.addErrback(lambda _: None)

    scenario()
    gc.collect()
    assert logged_errors.records == []


def test_returned_paused_deferred_is_waited_on() -> None:
    """A returned Deferred that fired but is paused is waited on."""
    outer: Deferred[int] = Deferred()
    inner = succeed("late")
    inner.pause()
    outer.addCallback(lambda _: inner)
    outer.callback(0)
    assert outer.paused
    inner.unpause()
    assert outer.result == "late"


def test_long_chain_of_deferreds_does_not_recurse() -> None:
    """100,000 Deferreds each returning the next complete without RecursionError."""
    n = 100_000
    ds: list[Deferred[int]] = [Deferred() for _ in range(n)]
    for a, b in zip(ds, ds[1:], strict=False):
        a.addCallback(lambda _, b=b: b)
    last = ds[-1]
    got: list[int] = []
    ds[0].addCallback(got.append)
    for d in ds[:-1]:
        d.callback(0)
    assert got == []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        last.callback(42)
    finally:
        sys.setrecursionlimit(limit)
    assert got == [42]


def test_long_chain_with_callbacks_after_each_link() -> None:
    """30,000 links, each inner Deferred with its own later callback, resolve iteratively."""
    n = 30_000
    ds: list[Deferred[int]] = [Deferred() for _ in range(n)]
    for a, b in zip(ds, ds[1:], strict=False):
        a.addCallback(lambda _, b=b: b)
    for d in ds[:-1]:
        d.callback(0)
    after: list[Any] = []
    for d in ds[1:]:
        # Runs once d has handed its result to the Deferred waiting on it.
        d.addBoth(after.append)
    got: list[int] = []
    ds[0].addCallback(got.append)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        ds[-1].callback(9)
    finally:
        sys.setrecursionlimit(limit)
    assert got == [9]
    assert after == [None] * (n - 1)


def test_callback_returning_own_deferred_warns() -> None:
    """A callback returning its own Deferred triggers a DeprecationWarning."""
    d: Deferred[Any] = Deferred()
    d.addCallback(lambda _: d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d.callback(None)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_callbacks_added_from_within_a_callback_run_in_order() -> None:
    """A callback adding callbacks to its own Deferred: they run after it, in order."""
    d: Deferred[int] = Deferred()
    seen: list[str] = []

    def first(r: int) -> int:
        d.addCallback(lambda r: seen.append("added") or r)
        seen.append("first")
        return r

    d.addCallback(first)
    d.addCallback(lambda r: seen.append("second") or r)
    d.callback(1)
    assert seen == ["first", "second", "added"]


# -- cancellation -----------------------------------------------------------------


def test_cancel_without_canceller_errbacks_and_swallows_late_fire() -> None:
    """cancel() with no canceller errbacks CancelledError; the late callback is ignored."""
    d: Deferred[int] = Deferred()
    d.cancel()
    f = result_of(d)
    assert f.check(CancelledError)
    d.callback(1)  # swallowed once
    with pytest.raises(AlreadyCalledError):
        d.callback(2)
    d.addErrback(lambda _: None)


def test_cancel_calls_canceller_then_errbacks_if_still_unfired() -> None:
    """The canceller runs; if it did not fire the Deferred, CancelledError follows."""
    calls: list[Deferred[Any]] = []
    d: Deferred[int] = Deferred(calls.append)
    d.cancel()
    assert calls == [d]
    assert result_of(d).check(CancelledError)
    with pytest.raises(AlreadyCalledError):
        d.callback(1)
    d.addErrback(lambda _: None)


def test_canceller_that_fires_the_deferred_decides_the_result() -> None:
    """A canceller that fires the Deferred gives that result instead of CancelledError."""
    d: Deferred[str] = Deferred(lambda d: d.callback("cancelled nicely"))
    d.cancel()
    assert d.result == "cancelled nicely"


def test_cancel_of_fired_deferred_does_nothing() -> None:
    """cancel() after firing changes nothing."""
    d = succeed(1)
    d.cancel()
    assert d.result == 1


def test_cancel_forwards_to_the_deferred_being_waited_on() -> None:
    """Cancelling a Deferred that waits on another cancels that other one."""
    inner: Deferred[int] = Deferred()
    outer = succeed(0).addCallback(lambda _: inner)
    outer.cancel()
    assert inner.called
    f = result_of(outer)
    assert f.check(CancelledError)
    outer.addErrback(lambda _: None)


def test_canceller_is_dropped_after_firing() -> None:
    """Firing forgets the canceller (no reference cycle through it)."""
    d: Deferred[int] = Deferred(lambda _: None)
    d.callback(1)
    assert d._canceller is None


# -- addTimeout -------------------------------------------------------------------


def test_addTimeout_times_out_with_TimeoutError() -> None:
    """An unfired Deferred is cancelled after the timeout; the chain sees TimeoutError."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    clock.advance(9.9)
    assert not d.called
    clock.advance(0.1)
    f = result_of(d)
    assert f.check(TimeoutError)
    assert f.value.args == (10, "Deferred")
    d.addErrback(lambda _: None)


def test_addTimeout_cancels_the_timer_when_fired_in_time() -> None:
    """Firing before the timeout removes the delayed call."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    d.callback(5)
    assert d.result == 5
    assert clock.getDelayedCalls() == []


def test_addTimeout_with_onTimeoutCancel() -> None:
    """onTimeoutCancel(result, timeout) replaces the timed-out result."""
    clock = Clock()
    d: Deferred[Any] = Deferred()
    d.addTimeout(3, clock, onTimeoutCancel=lambda r, t: ("timed out", t, type(r)))
    clock.advance(3)
    assert d.result == ("timed out", 3, Failure)


def test_addTimeout_other_cancel_is_not_a_timeout() -> None:
    """An explicit cancel() before the timeout stays a CancelledError."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    d.cancel()
    assert result_of(d).check(CancelledError)
    assert clock.getDelayedCalls() == []
    d.addErrback(lambda _: None)


def test_addTimeout_canceller_result_passes_through() -> None:
    """If the canceller fires with a value, the timeout leaves it alone."""
    clock = Clock()
    d: Deferred[str] = Deferred(lambda d: d.callback("value"))
    d.addTimeout(1, clock)
    clock.advance(1)
    assert d.result == "value"


# -- chainDeferred -------------------------------------------------------------------


def test_chainDeferred_fires_the_other_deferred() -> None:
    """chainDeferred passes the result (or failure) to the other Deferred."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    assert b._chainedTo is a
    a.callback(3)
    assert b.result == 3
    assert a.result is None
    assert b._chainedTo is None
    c: Deferred[int] = Deferred()
    e: Deferred[int] = Deferred()
    c.chainDeferred(e)
    c.errback(ValueError())
    assert result_of(e).check(ValueError)
    e.addErrback(lambda _: None)


# -- unhandled errors ------------------------------------------------------------------


def test_unhandled_failure_is_logged_on_collection(logged_errors: Any) -> None:
    """A Deferred dropped while holding a Failure logs 'Unhandled error in Deferred'."""
    d: Deferred[Any] = Deferred()
    d.errback(ValueError("lost"))
    del d
    gc.collect()
    [record] = logged_errors.records
    assert "Unhandled error in Deferred" in record.getMessage()
    assert logged_errors.flush(ValueError)


def test_handled_failure_is_not_logged(logged_errors: Any) -> None:
    """A failure consumed by an errback is not reported."""
    d: Deferred[Any] = Deferred()
    d.errback(ValueError("handled"))
    d.addErrback(lambda _: None)
    del d
    gc.collect()
    assert logged_errors.records == []


def test_unhandled_failure_with_debugging_includes_stacks(logged_errors: Any) -> None:
    """With debugging on, the report includes where the Deferred was created."""
    defer.setDebugging(True)
    try:
        d: Deferred[Any] = Deferred()
        d.errback(KeyError("dbg"))
    finally:
        defer.setDebugging(False)
    del d
    gc.collect()
    [record] = logged_errors.records
    assert "Deferred was created" in record.getMessage()
    logged_errors.flush(KeyError)


# -- helpers ---------------------------------------------------------------------------


def test_succeed_and_fail() -> None:
    """succeed() and fail() give already fired Deferreds."""
    assert succeed(1).result == 1
    f = fail(ValueError("x"))
    assert f.called and result_of(f).check(ValueError)
    f.addErrback(lambda _: None)
    try:
        raise KeyError()
    except KeyError:
        g = fail()
    assert result_of(g).check(KeyError)
    g.addErrback(lambda _: None)


def test_execute_captures_result_or_exception() -> None:
    """execute() calls at once and wraps the outcome."""
    assert execute(lambda a, b=0: a + b, 1, b=2).result == 3
    d = execute(lambda: 1 / 0)
    assert result_of(d).check(ZeroDivisionError)
    d.addErrback(lambda _: None)


def test_maybeDeferred_wraps_every_kind_of_result() -> None:
    """maybeDeferred: values, Deferreds, Failures, exceptions and coroutines."""
    assert maybeDeferred(lambda: 5).result == 5
    d: Deferred[int] = Deferred()
    assert maybeDeferred(lambda: d) is d
    failed = maybeDeferred(lambda: Failure(KeyError()))
    assert result_of(failed).check(KeyError)
    raised = maybeDeferred(lambda: {}["x"])
    assert result_of(raised).check(KeyError)

    async def coro(x: int) -> int:
        return x * 2

    assert maybeDeferred(coro, 21).result == 42
    for x in (failed, raised):
        x.addErrback(lambda _: None)


def test_maybeDeferred_leaves_generators_alone() -> None:
    """Only async-def coroutines are run; a generator is an ordinary result."""

    def gen() -> Any:
        yield 1

    g = gen()
    assert maybeDeferred(lambda: g).result is g


def test_str_and_repr() -> None:
    """repr shows the current result or what the Deferred waits on."""
    d: Deferred[int] = Deferred()
    assert repr(d) == f"<Deferred at 0x{id(d):x}>"
    d.callback(1)
    assert repr(d) == f"<Deferred at 0x{id(d):x} current result: 1>"
    inner: Deferred[int] = Deferred()
    outer = succeed(0).addCallback(lambda _: inner)
    assert str(outer) == f"<Deferred at 0x{id(outer):x} waiting on Deferred at 0x{id(inner):x}>"
    inner.callback(0)


def test_subclass_is_recognised_as_a_deferred() -> None:
    """A Deferred subclass returned from a callback is chained like a Deferred."""

    class MyDeferred(Deferred[Any]):
        pass

    inner = MyDeferred()
    outer = succeed(0).addCallback(lambda _: inner)
    assert outer.paused
    inner.callback("sub")
    assert outer.result == "sub"


def test_logError_logs_and_passes_failure_on(logged_errors: Any) -> None:
    """logError logs the failure and returns it."""
    d: Deferred[Any] = fail(ValueError("logged"))
    d.addErrback(defer.logError)
    assert result_of(d).check(ValueError)
    d.addErrback(lambda _: None)
    assert logged_errors.flush(ValueError)
