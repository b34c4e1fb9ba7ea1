"""Coroutines and Deferreds: ensureDeferred, fromCoroutine, inlineCallbacks,
cancellation into the coroutine, contextvars; differential against Twisted."""

from __future__ import annotations

import contextvars
import gc
import warnings
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer as tdefer
from twisted.python.failure import Failure as TFailure

from torsion.internet import defer as xdefer
from torsion.internet.defer import (
    CancelledError,
    Deferred,
    NotACoroutineError,
    ensureDeferred,
    fail,
    inlineCallbacks,
    returnValue,
    succeed,
)
from torsion.python.failure import Failure


def outcome(d: Deferred[Any]) -> Any:
    """The result of a fired Deferred (a Failure for an error), consumed."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has not fired"
    return box[0]


# -- ensureDeferred / fromCoroutine --------------------------------------------------


def test_ensureDeferred_runs_coroutine_to_completion_synchronously() -> None:
    """A coroutine awaiting only fired Deferreds completes inside ensureDeferred."""

    async def main() -> int:
        a = await succeed(1)
        b = await succeed(2)
        return a + b

    assert outcome(ensureDeferred(main())) == 3


def test_coroutine_waits_for_unfired_deferred() -> None:
    """The coroutine resumes with the result when the awaited Deferred fires."""
    d: Deferred[str] = Deferred()
    trail: list[str] = []

    async def main() -> str:
        trail.append("before")
        value = await d
        trail.append(value)
        return value.upper()

    result = ensureDeferred(main())
    assert trail == ["before"] and not result.called
    d.callback("x")
    assert trail == ["before", "x"]
    assert outcome(result) == "X"


def test_awaited_failure_is_raised_in_coroutine() -> None:
    """A failed Deferred raises its exception at the await."""
    d: Deferred[Any] = Deferred()

    async def main() -> str:
        try:
            await d
        except KeyError as e:
            return f"caught {e.args[0]}"
        return "no"

    result = ensureDeferred(main())
    d.errback(KeyError("k"))
    assert outcome(result) == "caught k"


def test_uncaught_exception_fails_the_deferred() -> None:
    """An exception escaping the coroutine errbacks its Deferred."""

    async def main() -> None:
        await succeed(None)
        raise ValueError("escaped")

    f = outcome(ensureDeferred(main()))
    assert isinstance(f, Failure) and f.check(ValueError)
    assert "main" in f.getTraceback()


def test_fromCoroutine_and_ensureDeferred_type_checks() -> None:
    """Non-coroutines are refused with NotACoroutineError (a TypeError)."""
    with pytest.raises(NotACoroutineError):
        Deferred.fromCoroutine(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ensureDeferred(42)  # type: ignore[arg-type]
    d: Deferred[int] = Deferred()
    assert ensureDeferred(d) is d


def test_fromCoroutine_accepts_generators() -> None:
    """fromCoroutine drives a generator like inlineCallbacks does, as in Twisted."""

    def gen() -> Generator[Any, Any, int]:
        x = yield succeed(4)
        return x + 1

    assert outcome(Deferred.fromCoroutine(gen())) == 5


def test_ensureDeferred_accepts_other_awaitables() -> None:
    """Beyond Twisted: any awaitable object is accepted."""

    class Awaitable:
        def __await__(self) -> Generator[Any, Any, str]:
            value = yield from succeed("inner").__await__()
            return value + "!"

    assert outcome(ensureDeferred(Awaitable())) == "inner!"


def test_await_of_fired_deferred_leaves_its_result() -> None:
    """As in Twisted, awaiting a fired Deferred does not consume its result."""
    d = succeed(5)

    async def main() -> int:
        return await d

    assert outcome(ensureDeferred(main())) == 5
    assert d.result == 5


def test_await_of_fired_failure_is_not_reported_unhandled(logged_errors: Any) -> None:
    """A failure raised by an await counts as handled."""

    async def main(d: Deferred[Any]) -> None:
        try:
            await d
        except ValueError:
            pass

    ensureDeferred(main(fail(ValueError("seen"))))
    gc.collect()
    assert logged_errors.records == []


def test_await_of_unfired_deferred_consumes_its_result() -> None:
    """As in Twisted, the awaited result is taken: the Deferred goes on with None."""
    d: Deferred[int] = Deferred()

    async def main() -> int:
        return await d

    result = ensureDeferred(main())
    d.callback(3)
    assert outcome(result) == 3
    assert d.result is None


def test_deep_synchronous_awaits_do_not_recurse() -> None:
    """A coroutine awaiting many fired Deferreds does not grow the stack."""

    async def main() -> int:
        total = 0
        for _ in range(20_000):
            total += await succeed(1)
        return total

    assert outcome(ensureDeferred(main())) == 20_000


def test_many_deferreds_fired_later_in_sequence() -> None:
    """A coroutine waiting on many Deferreds fired one after another."""
    ds: list[Deferred[int]] = [Deferred() for _ in range(1000)]

    async def main() -> int:
        return sum([await d for d in ds])

    result = ensureDeferred(main())
    for d in ds:
        d.callback(2)
    assert outcome(result) == 2000


def test_nested_coroutines() -> None:
    """Coroutines awaiting coroutines awaiting Deferreds."""
    d: Deferred[int] = Deferred()

    async def inner() -> int:
        return await d * 2

    async def outer() -> int:
        return await inner() + await ensureDeferred(inner())

    result = ensureDeferred(outer())
    d.callback(5)
    assert outcome(result) == 20


# -- cancellation ---------------------------------------------------------------------


def test_cancel_raises_CancelledError_inside_coroutine() -> None:
    """Cancelling ensureDeferred's Deferred cancels the awaited Deferred, inside the coroutine."""
    inner: Deferred[int] = Deferred()
    seen: list[str] = []

    async def main() -> None:
        try:
            await inner
        except CancelledError:
            seen.append("cancelled inside")
            raise

    result = ensureDeferred(main())
    result.cancel()
    assert seen == ["cancelled inside"]
    assert outcome(result).check(CancelledError)
    assert inner.called


def test_coroutine_swallowing_cancel_returns_normally() -> None:
    """A coroutine that catches CancelledError decides the outcome."""
    inner: Deferred[int] = Deferred()

    async def main() -> str:
        try:
            await inner
        except CancelledError:
            return "carried on"
        return "not reached"

    result = ensureDeferred(main())
    result.cancel()
    assert outcome(result) == "carried on"


def test_coroutine_continuing_after_cancel_keeps_deferred_waiting() -> None:
    """After a swallowed cancel the coroutine may await more; the Deferred waits for it."""
    first: Deferred[int] = Deferred()
    second: Deferred[int] = Deferred()

    async def main() -> int:
        try:
            await first
        except CancelledError:
            pass
        return await second

    result = ensureDeferred(main())
    result.cancel()
    assert result.called and result.paused  # chained to the coroutine, as in Twisted
    second.callback(7)
    assert outcome(result) == 7


def test_second_cancel_reaches_the_next_await() -> None:
    """Cancelling again cancels what the coroutine waits on now."""
    first: Deferred[int] = Deferred()
    second: Deferred[int] = Deferred()

    async def main() -> int:
        try:
            await first
        except CancelledError:
            pass
        return await second

    result = ensureDeferred(main())
    result.cancel()
    result.cancel()
    assert second.called
    assert outcome(result).check(CancelledError)


def test_cancel_with_canceller_result_reaches_coroutine() -> None:
    """An awaited Deferred whose canceller fires a value gives that value to the coroutine."""
    inner: Deferred[str] = Deferred(lambda d: d.callback("fallback"))

    async def main() -> str:
        return await inner

    result = ensureDeferred(main())
    result.cancel()
    assert outcome(result) == "fallback"


def test_cancel_of_finished_coroutine_does_nothing() -> None:
    """Cancelling after the coroutine finished changes nothing."""

    async def main() -> int:
        return 1

    result = ensureDeferred(main())
    result.cancel()
    assert outcome(result) == 1


def test_inlineCallbacks_cancel_propagates_to_yielded_deferred() -> None:
    """Cancelling an inlineCallbacks Deferred cancels what the generator waits on."""
    inner: Deferred[int] = Deferred()
    seen: list[str] = []

    @inlineCallbacks
    def gen() -> Generator[Any, Any, str]:
        try:
            yield inner
        except CancelledError:
            seen.append("inside")
        return "done"

    result = gen()
    result.cancel()
    assert seen == ["inside"]
    assert outcome(result) == "done"


# -- inlineCallbacks ---------------------------------------------------------------------


def test_inlineCallbacks_yields_deferreds_and_returns() -> None:
    """Yielded Deferreds give their results; plain return fires the Deferred."""
    later: Deferred[int] = Deferred()

    @inlineCallbacks
    def gen(x: int) -> Generator[Any, Any, int]:
        a = yield succeed(x)
        b = yield later
        c = yield "not a deferred"
        assert c == "not a deferred"
        return a + b

    result = gen(1)
    assert not result.called
    later.callback(10)
    assert outcome(result) == 11


def test_inlineCallbacks_yields_coroutines() -> None:
    """A yielded coroutine is run and its result sent back (Twisted 24.7+)."""
    d: Deferred[int] = Deferred()

    async def coro() -> int:
        return await d + 1

    @inlineCallbacks
    def gen() -> Generator[Any, Any, int]:
        value = yield coro()
        return value * 2

    result = gen()
    d.callback(1)
    assert outcome(result) == 4


def test_inlineCallbacks_failure_raised_in_generator() -> None:
    """A yielded failing Deferred raises inside the generator."""

    @inlineCallbacks
    def gen() -> Generator[Any, Any, str]:
        try:
            yield fail(KeyError("x"))
        except KeyError:
            return "handled"
        return "no"

    assert outcome(gen()) == "handled"


def test_inlineCallbacks_uncaught_error_fails_deferred() -> None:
    """An exception escaping the generator errbacks the Deferred."""

    @inlineCallbacks
    def gen() -> Generator[Any, Any, None]:
        yield succeed(None)
        raise ZeroDivisionError()

    assert outcome(gen()).check(ZeroDivisionError)


def test_inlineCallbacks_requires_generator() -> None:
    """Decorating a plain function fails with TypeError when called."""

    @inlineCallbacks
    def notgen() -> Any:
        return 1

    with pytest.raises(TypeError, match="produce a generator"):
        notgen()


def test_returnValue_is_deprecated_but_works() -> None:
    """returnValue() still returns a value, with a DeprecationWarning."""

    @inlineCallbacks
    def gen() -> Generator[Any, Any, None]:
        yield succeed(None)
        returnValue("old style")

    with pytest.deprecated_call():
        result = gen()
    assert outcome(result) == "old style"


def test_returnValue_from_nested_function_warns() -> None:
    """returnValue() called by a helper (not the generator itself) warns about it."""

    def helper() -> None:
        returnValue("from helper")

    @inlineCallbacks
    def gen() -> Generator[Any, Any, None]:
        yield succeed(None)
        helper()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = gen()
    assert outcome(result) == "from helper"
    messages = [str(w.message) for w in caught]
    assert any("returnValue() in 'helper' causing 'gen' to exit" in m for m in messages)


def test_returnValue_in_non_generator_is_a_type_error() -> None:
    """returnValue() used by a decorated non-generator is a TypeError."""

    @inlineCallbacks
    def notgen() -> Any:
        returnValue(1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="non-generator"):
            notgen()


def test_inlineCallbacks_many_synchronous_yields() -> None:
    """Yielding many fired Deferreds does not grow the stack."""

    @inlineCallbacks
    def gen() -> Generator[Any, Any, int]:
        total = 0
        for _ in range(20_000):
            total += yield succeed(1)
        return total

    assert outcome(gen()) == 20_000


# -- contextvars -------------------------------------------------------------------------

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def test_coroutine_context_is_preserved_across_awaits() -> None:
    """A contextvar set in a coroutine keeps its value after awaits and does not leak out."""
    d: Deferred[None] = Deferred()
    seen: list[str] = []

    async def main() -> None:
        var.set("inside")
        await d
        seen.append(var.get())

    ensureDeferred(main())
    assert var.get() == "unset"
    d.callback(None)
    assert seen == ["inside"]
    assert var.get() == "unset"


def test_each_coroutine_has_its_own_context() -> None:
    """Two coroutines setting the same contextvar do not see each other's values."""
    d: Deferred[None] = Deferred()
    seen: list[tuple[str, str]] = []

    async def worker(name: str) -> None:
        var.set(name)
        await d
        seen.append((name, var.get()))

    ensureDeferred(worker("a"))
    ensureDeferred(worker("b"))
    d.callback(None)
    d.addCallback(lambda _: None)
    assert sorted(seen) == [("a", "a")] or sorted(seen) == [("a", "a"), ("b", "b")]


def test_coroutine_sees_context_of_its_creator() -> None:
    """A coroutine starts with a copy of the context where ensureDeferred was called."""
    token = var.set("creator")
    try:

        async def main() -> str:
            return var.get()

        assert outcome(ensureDeferred(main())) == "creator"
    finally:
        var.reset(token)


def test_inlineCallbacks_context_preserved() -> None:
    """inlineCallbacks generators keep their contextvars across yields."""
    d: Deferred[None] = Deferred()
    seen: list[str] = []

    @inlineCallbacks
    def gen() -> Generator[Any, Any, None]:
        var.set("gen")
        yield d
        seen.append(var.get())

    gen()
    d.callback(None)
    assert seen == ["gen"] and var.get() == "unset"


def test_context_resumed_from_another_context() -> None:
    """Resuming from a callback running elsewhere still uses the coroutine's own context."""
    d: Deferred[None] = Deferred()
    seen: list[str] = []

    async def main() -> None:
        var.set("mine")
        await d
        seen.append(var.get())

    ensureDeferred(main())
    other = contextvars.copy_context()
    other.run(var.set, "other")
    other.run(d.callback, None)
    assert seen == ["mine"]


# -- differential: random coroutine programs on Twisted and on torsion ---------------------

HANDLERS = ["reraise", "return", "continue", "other"]


def run_coroutine_program(
    lib: str, style: str, program: list[tuple[str, str]], script: list[tuple[str, int]]
) -> list[Any]:
    """Run a coroutine/generator doing ``program``, driven by ``script``."""
    defer = tdefer if lib == "twisted" else xdefer
    failureTypes = (TFailure, Failure)
    trace: list[Any] = []
    inners: list[Any] = []
    outer: list[Any] = []

    def describe(x: Any) -> Any:
        if isinstance(x, failureTypes):
            return ("F", x.type.__name__, str(x.value))
        if isinstance(x, (tdefer.Deferred, xdefer.Deferred)):
            return ("D", x.called, x.paused)
        return ("V", repr(x))

    def awaitable(i: int, kind: str) -> Any:
        if kind == "unfired":
            d = defer.Deferred()
            inners.append(d)
            return d
        if kind == "fired":
            return defer.succeed(i)
        if kind == "failed":
            return defer.fail(KeyError(i))
        d = defer.Deferred()
        inners.append(d)
        outer[0].cancel()  # cancel from inside the running coroutine
        return d

    def handle(i: int, handler: str, e: BaseException) -> Any:
        trace.append(("caught", i, type(e).__name__))
        if handler == "reraise":
            raise e
        if handler == "return":
            return ("returned", i)
        if handler == "other":
            raise ValueError(i)
        return None

    async def coro() -> Any:
        for i, (kind, handler) in enumerate(program):
            try:
                value = await awaitable(i, kind)
                trace.append(("got", i, value))
            except Exception as e:
                r = handle(i, handler, e)
                if r is not None:
                    return r
        return "end"

    def gen() -> Any:
        for i, (kind, handler) in enumerate(program):
            try:
                value = yield awaitable(i, kind)
                trace.append(("got", i, value))
            except Exception as e:
                r = handle(i, handler, e)
                if r is not None:
                    return r
        return "end"

    outer.append(None)
    if style == "coroutine":
        outer[0] = defer.Deferred()  # placeholder while starting
        d = defer.ensureDeferred(coro())
    else:
        outer[0] = defer.Deferred()
        d = defer.inlineCallbacks(gen)()
    placeholder, outer[0] = outer[0], d
    placeholder.addErrback(lambda _: None)
    d.addBoth(lambda r: trace.append(("outer fired", describe(r))) or r)
    for step, (action, n) in enumerate(script):
        try:
            if action == "cancel":
                d.cancel()
            elif inners:
                target = inners[n % len(inners)]
                if action == "fire":
                    target.callback(n)
                else:
                    target.errback(KeyError(n))
            trace.append(("step", step, d.called))
        except Exception as e:
            trace.append(("raised", step, type(e).__name__))
    trace.append(("final", d.called, d.paused, describe(d.result) if d.called else None))
    for x in [d, *inners]:
        while x.paused > 0 and x._chainedTo is None:
            x.unpause()
        x.addErrback(lambda _: None)
    return trace


@settings(max_examples=250, deadline=None)
@given(
    style=st.sampled_from(["coroutine", "inlineCallbacks"]),
    program=st.lists(
        st.tuples(
            st.sampled_from(["unfired", "fired", "failed", "cancelSelf"]),
            st.sampled_from(HANDLERS),
        ),
        max_size=5,
    ),
    script=st.lists(
        st.tuples(st.sampled_from(["cancel", "fire", "fail"]), st.integers(0, 5)), max_size=8
    ),
)
def test_coroutine_programs_match_twisted(
    style: str, program: list[tuple[str, str]], script: list[tuple[str, int]]
) -> None:
    """Awaits, failures and cancellations (incl. swallowed ones) behave as in Twisted."""
    assert run_coroutine_program("torsion", style, program, script) == run_coroutine_program(
        "twisted", style, program, script
    )
