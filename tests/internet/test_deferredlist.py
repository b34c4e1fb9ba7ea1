"""DeferredList, gatherResults, race, FirstError, FailureGroup."""

from __future__ import annotations

from typing import Any

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    FailureGroup,
    FirstError,
    fail,
    gatherResults,
    race,
    succeed,
)
from torsion.python.failure import Failure


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has not fired"
    return box[0]


def test_deferredlist_collects_success_pairs_in_order() -> None:
    """The result is (success, result) pairs in the order of the list."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b])
    b.callback(2)
    assert not dl.called
    a.errback(KeyError("a"))
    result = outcome(dl)
    assert result[1] == (True, 2)
    assert result[0][0] is False and result[0][1].check(KeyError)
    a.addErrback(lambda _: None)


def test_deferredlist_empty_fires_at_once() -> None:
    """An empty DeferredList fires with [] immediately."""
    assert outcome(DeferredList([])) == []


def test_deferredlist_empty_with_fireOnOneCallback_never_fires() -> None:
    """With fireOnOneCallback an empty list never fires, as in Twisted."""
    assert not DeferredList([], fireOnOneCallback=True).called


def test_deferredlist_with_already_fired_deferreds() -> None:
    """Already fired Deferreds are collected at construction."""
    assert outcome(DeferredList([succeed(1), succeed(2)])) == [(True, 1), (True, 2)]


def test_fireOnOneCallback_gives_result_and_index() -> None:
    """fireOnOneCallback fires with (result, index) of the first success."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b], fireOnOneCallback=True)
    b.callback("b")
    assert outcome(dl) == ("b", 1)
    a.callback("a")


def test_fireOnOneErrback_gives_FirstError() -> None:
    """fireOnOneErrback fails with FirstError(failure, index) at the first failure."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b], fireOnOneErrback=True)
    b.errback(ValueError("b"))
    f = outcome(dl)
    assert isinstance(f, Failure) and f.check(FirstError)
    assert f.value.index == 1 and f.value.subFailure.check(ValueError)
    assert repr(f.value) == "FirstError[#1, ValueError('b')]"
    assert str(f.value).startswith("FirstError[#1, [Failure instance: Traceback")
    a.callback(None)
    b.addErrback(lambda _: None)


def test_consumeErrors_turns_failures_into_none() -> None:
    """With consumeErrors, each failure continues as None in its own Deferred."""
    a = fail(KeyError("a"))
    dl = DeferredList([a], consumeErrors=True)
    assert outcome(a) is None
    assert outcome(dl)[0][1].check(KeyError)


def test_without_consumeErrors_failure_stays_in_deferred() -> None:
    """Without consumeErrors the failure goes on down the original Deferred."""
    a = fail(KeyError("a"))
    DeferredList([a])
    assert outcome(a).check(KeyError)


def test_cancel_deferredlist_cancels_members() -> None:
    """Cancelling an unfired DeferredList cancels every Deferred in it."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b], consumeErrors=True)
    dl.cancel()
    result = outcome(dl)
    assert [ok for ok, _ in result] == [False, False]
    assert all(r.check(CancelledError) for _, r in result)


def test_cancel_fired_deferredlist_does_nothing() -> None:
    """Cancelling a DeferredList that fired leaves its members alone."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b], fireOnOneCallback=True)
    a.callback(1)
    dl.cancel()
    assert not b.called


def test_cancel_logs_canceller_errors_and_goes_on(logged_errors: Any) -> None:
    """A canceller that raises is logged; the other Deferreds are still cancelled."""

    def broken(_: Deferred[Any]) -> None:
        raise RuntimeError("bad canceller")

    a: Deferred[int] = Deferred(broken)
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b], consumeErrors=True)
    dl.cancel()
    assert b.called and not a.called
    assert logged_errors.flush(RuntimeError)
    a.callback(1)
    assert outcome(dl)[0] == (True, 1)


def test_deferredlist_is_a_deferred() -> None:
    """A DeferredList returned from a callback is chained like a Deferred."""
    a: Deferred[int] = Deferred()
    outer = succeed(None).addCallback(lambda _: DeferredList([a]))
    assert outer.paused
    a.callback(5)
    assert outcome(outer) == [(True, 5)]


def test_gatherResults_plain_list() -> None:
    """gatherResults gives the plain list of results."""
    a: Deferred[int] = Deferred()
    d = gatherResults([a, succeed(2)])
    a.callback(1)
    assert outcome(d) == [1, 2]


def test_gatherResults_first_error() -> None:
    """gatherResults fails with FirstError at the first failure."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    d = gatherResults([a, b], consumeErrors=True)
    a.errback(ValueError())
    f = outcome(d)
    assert f.check(FirstError) and f.value.index == 0
    b.callback(1)


def test_gatherResults_cancel() -> None:
    """Cancelling gatherResults cancels the Deferreds."""
    a: Deferred[int] = Deferred()
    d = gatherResults([a], consumeErrors=True)
    d.cancel()
    assert a.called
    assert outcome(d).check(FirstError)


def test_FirstError_equality() -> None:
    """FirstErrors compare by index and sub-failure."""
    f = Failure(ValueError())
    assert FirstError(f, 1) == FirstError(f, 1)
    assert FirstError(f, 1) != FirstError(f, 2)
    assert FirstError(f, 1) < FirstError(f, 2)
    assert FirstError(f, 1) != "something else"


def test_race_first_success_wins_and_losers_are_cancelled() -> None:
    """race fires with (index, result) of the first success and cancels the others."""
    cancelled: list[Deferred[Any]] = []
    a: Deferred[int] = Deferred(cancelled.append)
    b: Deferred[int] = Deferred(cancelled.append)
    c: Deferred[int] = Deferred(cancelled.append)
    d = race([a, b, c])
    b.callback("b")
    assert outcome(d) == (1, "b")
    assert cancelled == [a, c]
    # race's own errback took the CancelledErrors over.
    assert a.result is None and c.result is None


def test_race_ignores_failures_until_all_fail() -> None:
    """race waits past failures; if all fail it fails with FailureGroup."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    d = race([a, b])
    b.errback(KeyError("b"))
    assert not d.called
    a.errback(ValueError("a"))
    f = outcome(d)
    assert f.check(FailureGroup)
    assert [x.type for x in f.value.failures] == [ValueError, KeyError]


def test_race_cancel_cancels_all() -> None:
    """Cancelling race cancels every Deferred; it fails with FailureGroup of cancels."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    d = race([a, b])
    d.cancel()
    f = outcome(d)
    assert f.check(FailureGroup)
    assert all(x.check(CancelledError) for x in f.value.failures)


def test_race_winner_not_cancelled_even_if_loser_succeeds_on_cancel() -> None:
    """A loser whose canceller fires a success does not change the winner."""
    a: Deferred[str] = Deferred(lambda d: d.callback("late"))
    b: Deferred[str] = Deferred()
    d = race([a, b])
    b.callback("first")
    assert outcome(d) == (1, "first")
