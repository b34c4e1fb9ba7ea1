"""Deferreds and asyncio: ``await d`` in plain asyncio tasks (with cancellation in
both directions), asFuture/fromFuture, torsion coroutines awaiting asyncio
futures, and an ``asyncio.run()`` program using torsion's TCP client.  Every
test runs on the stdlib loop and on uvloop."""

from __future__ import annotations

import asyncio
import contextvars
import gc
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from torsion.internet import protocol
from torsion.internet._loops import newEventLoop
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.internet.defer import (
    CancelledError,
    Deferred,
    ensureDeferred,
    fail,
    gatherResults,
    succeed,
)
from torsion.python.failure import Failure

try:
    import uvloop  # noqa: F401

    LOOPS = ["asyncio", "uvloop"]
except ImportError:  # pragma: no cover
    LOOPS = ["asyncio"]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine to completion on a fresh loop of the parametrized kind."""
    impl = str(request.param)

    def runner(coro: Coroutine[Any, Any, Any]) -> Any:
        loop = newEventLoop(impl)
        problems: list[Any] = []
        loop.set_exception_handler(lambda _l, ctx: problems.append(ctx))
        try:
            return loop.run_until_complete(asyncio.wait_for(coro, 10))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            assert not problems, problems

    return runner


def outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box
    return box[0]


# -- await in a plain asyncio Task ---------------------------------------------------------


def test_task_awaits_unfired_deferred(run: Any) -> None:
    """An asyncio Task awaits a Deferred fired later by the loop."""

    async def main() -> int:
        d: Deferred[int] = Deferred()
        asyncio.get_running_loop().call_later(0.01, d.callback, 41)
        return await d + 1

    assert run(main()) == 42


def test_task_awaits_fired_and_failed_deferreds(run: Any) -> None:
    """Fired Deferreds give their result at once; failed ones raise."""

    async def main() -> str:
        assert await succeed("a") == "a"
        with pytest.raises(KeyError):
            await fail(KeyError("k"))
        d: Deferred[int] = Deferred()
        asyncio.get_running_loop().call_soon(d.errback, ValueError("later"))
        with pytest.raises(ValueError, match="later"):
            await d
        return "ok"

    assert run(main()) == "ok"


def test_task_await_consumes_failure(run: Any, logged_errors: Any) -> None:
    """A failure raised into a Task is not also reported as unhandled."""

    async def main() -> None:
        d: Deferred[int] = Deferred()
        asyncio.get_running_loop().call_soon(d.errback, ValueError("once"))
        with pytest.raises(ValueError):
            await d
        del d

    run(main())
    gc.collect()
    assert logged_errors.records == []


def test_task_cancel_cancels_awaited_deferred(run: Any) -> None:
    """Cancelling the Task cancels the Deferred it awaits; the Task ends cancelled."""
    cancelled: list[Deferred[Any]] = []

    async def main() -> tuple[bool, bool]:
        d: Deferred[int] = Deferred(cancelled.append)

        async def waiter() -> int:
            return await d

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled(), d.called

    assert run(main()) == (True, True)
    assert len(cancelled) == 1


def test_task_cancel_when_canceller_fires_a_value(run: Any) -> None:
    """The Task is cancelled even if the Deferred's canceller fires it with a value."""

    async def main() -> bool:
        d: Deferred[str] = Deferred(lambda d: d.callback("ignored"))

        async def waiter() -> str:
            return await d

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main())


def test_task_cancel_of_slow_to_cancel_deferred(run: Any) -> None:
    """A Deferred that only fires some time after cancel() still ends the Task cancelled."""

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        inner: Deferred[int] = Deferred(lambda d: loop.call_later(0.01, d.callback, 1))
        outer = succeed(None).addCallback(lambda _: inner)

        async def waiter() -> int:
            return await outer

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main())


def test_task_swallowing_cancel_continues(run: Any) -> None:
    """A coroutine in a Task may catch the cancellation and go on."""

    async def main() -> str:
        d: Deferred[int] = Deferred()

        async def waiter() -> str:
            try:
                await d
            except asyncio.CancelledError:
                return "went on"
            return "no"

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        task.cancel()
        return await task

    assert run(main()) == "went on"


def test_deferred_cancelled_elsewhere_raises_in_task(run: Any) -> None:
    """If someone else cancels the awaited Deferred, the Task sees defer.CancelledError."""

    async def main() -> str:
        d: Deferred[int] = Deferred()
        asyncio.get_running_loop().call_soon(d.cancel)
        try:
            await d
        except CancelledError:
            return "defer.CancelledError"
        return "no"

    assert run(main()) == "defer.CancelledError"


def test_wait_for_times_out_and_cancels_deferred(run: Any) -> None:
    """asyncio.wait_for on a Deferred times out and cancels it."""
    seen: list[Deferred[Any]] = []

    async def main() -> bool:
        d: Deferred[int] = Deferred(seen.append)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(d, 0.01)
        return d.called

    assert run(main())
    assert len(seen) == 1


def test_gather_of_deferreds(run: Any) -> None:
    """asyncio.gather accepts Deferreds."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        ds: list[Deferred[int]] = [Deferred() for _ in range(3)]
        for i, d in enumerate(ds):
            loop.call_soon(d.callback, i)
        return list(await asyncio.gather(*ds))

    assert run(main()) == [0, 1, 2]


def test_task_keeps_its_own_context(run: Any) -> None:
    """contextvars of a Task are intact after awaiting a Deferred."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("v", default="none")

    async def main() -> str:
        var.set("task")
        d: Deferred[None] = Deferred()
        asyncio.get_running_loop().call_soon(d.callback, None)
        await d
        return var.get()

    assert run(main()) == "task"


# -- asFuture / fromFuture ---------------------------------------------------------------------


def test_asFuture_result_and_failure(run: Any) -> None:
    """asFuture gives a Future with the Deferred's result or exception."""

    async def main() -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        fut = d.asFuture(loop)
        loop.call_soon(d.callback, 3)
        value = await fut
        e: Deferred[int] = Deferred()
        efut = e.asFuture(loop)
        e.errback(KeyError("k"))
        with pytest.raises(KeyError):
            await efut
        return value, d.result, e.result

    assert run(main()) == (3, None, None)


def test_asFuture_cancel_future_cancels_deferred(run: Any) -> None:
    """Cancelling the Future cancels the Deferred."""

    cancelled: list[Deferred[Any]] = []

    async def main() -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred(cancelled.append)
        fut = d.asFuture(loop)
        fut.cancel()
        await asyncio.sleep(0)
        return d.called, d.result

    # The CancelledError was consumed by the Future's callbacks.
    assert run(main()) == (True, None)
    assert len(cancelled) == 1


def test_asFuture_cancel_deferred_fails_future(run: Any) -> None:
    """Cancelling the Deferred fails the Future with defer.CancelledError (as Twisted)."""

    async def main() -> str:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        fut = d.asFuture(loop)
        d.cancel()
        try:
            await fut
        except CancelledError:
            return "defer.CancelledError"
        return "no"

    assert run(main()) == "defer.CancelledError"


def test_fromFuture_result_and_exception(run: Any) -> None:
    """fromFuture fires with the Future's result or fails with its exception."""

    async def main() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        f1 = loop.create_future()
        d1 = Deferred.fromFuture(f1)
        f1.set_result("r")
        f2 = loop.create_future()
        d2 = Deferred.fromFuture(f2)
        f2.set_exception(KeyError("e"))
        a = await d1
        try:
            await d2
        except KeyError:
            b = "KeyError"
        return a, b

    assert run(main()) == ("r", "KeyError")


def test_fromFuture_cancel_cancels_future(run: Any) -> None:
    """Cancelling the Deferred cancels the Future; it fires later with asyncio.CancelledError."""

    async def main() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        d = Deferred.fromFuture(fut)
        d.cancel()
        firedAtOnce = d.called and not d.paused
        await asyncio.sleep(0)
        failure = outcome(d)
        return fut.cancelled(), firedAtOnce, bool(failure.check(asyncio.CancelledError))

    assert run(main()) == (True, False, True)


def test_fromFuture_cancel_after_future_done_keeps_result(run: Any) -> None:
    """If the Future finished before the cancel, the Deferred gets its result."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        d = Deferred.fromFuture(fut)
        fut.set_result("done first")
        d.cancel()
        await asyncio.sleep(0)
        return outcome(d)

    assert run(main()) == "done first"


def test_fromFuture_of_task(run: Any) -> None:
    """A Task wrapped with fromFuture; ensureDeferred accepts futures too."""

    async def work() -> int:
        await asyncio.sleep(0)
        return 9

    async def main() -> tuple[int, int]:
        a = await Deferred.fromFuture(asyncio.ensure_future(work()))
        b = await ensureDeferred(asyncio.ensure_future(work()))
        return a, b

    assert run(main()) == (9, 9)


# -- torsion coroutines awaiting asyncio awaitables -----------------------------------------------


def test_torsion_coroutine_awaits_asyncio_futures(run: Any) -> None:
    """A coroutine run by ensureDeferred awaits asyncio futures, sleeps and tasks."""

    async def inTorsion() -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, "future")
        a = await fut
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        b = await asyncio.ensure_future(asyncio.sleep(0, "task"))
        c = await succeed("deferred")
        return a, b, c

    async def main() -> Any:
        return await ensureDeferred(inTorsion())

    assert run(main()) == ("future", "task", "deferred")


def test_torsion_coroutine_sees_asyncio_exceptions(run: Any) -> None:
    """An asyncio future's exception is raised inside the torsion coroutine."""

    async def inTorsion() -> str:
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(KeyError("x"))
        try:
            await fut
        except KeyError:
            return "caught"
        return "no"

    async def main() -> Any:
        return await ensureDeferred(inTorsion())

    assert run(main()) == "caught"


def test_cancel_torsion_coroutine_waiting_on_future(run: Any) -> None:
    """Cancelling ensureDeferred cancels the awaited asyncio future; outcome is CancelledError."""
    futures: list[asyncio.Future[Any]] = []

    async def inTorsion() -> None:
        fut = asyncio.get_running_loop().create_future()
        futures.append(fut)
        await fut

    async def main() -> Any:
        d = ensureDeferred(inTorsion())
        await asyncio.sleep(0)
        d.cancel()
        await asyncio.sleep(0)
        return outcome(d)

    f = run(main())
    assert futures[0].cancelled()
    assert isinstance(f, Failure) and f.check(CancelledError)


def test_cancel_torsion_coroutine_in_asyncio_sleep(run: Any) -> None:
    """Cancelling during asyncio.sleep(0) raises asyncio.CancelledError in the coroutine."""
    seen: list[str] = []

    async def inTorsion() -> str:
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            seen.append("cancelled")
            return "handled"
        return "no"

    async def main() -> Any:
        d = ensureDeferred(inTorsion())
        d.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return outcome(d)

    assert run(main()) == "handled"
    assert seen == ["cancelled"]


def test_sleep_zero_without_loop_continues_at_once() -> None:
    """Without a running loop, asyncio.sleep(0) in a torsion coroutine does not suspend."""

    async def inTorsion() -> str:
        await asyncio.sleep(0)
        return "went through"

    assert outcome(ensureDeferred(inTorsion())) == "went through"


# -- an asyncio.run() program using torsion's TCP client -----------------------------------------


class LineClient(protocol.Protocol):
    """Sends a line, collects the echo, reports it through a Deferred."""

    def __init__(self, done: Deferred[bytes]) -> None:
        self.done = done
        self.buffer = b""

    def connectionMade(self) -> None:
        self.transport.write(b"hello torsion\n")

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if self.buffer.endswith(b"\n"):
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback(self.buffer)


async def tcp_program() -> tuple[bytes, bool]:
    """Echo over loopback: an asyncio server, torsion's connectTCP client."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reactor = AsyncioReactor()  # joins the running loop
    done: Deferred[bytes] = Deferred()
    factory = protocol.ClientFactory.forProtocol(lambda: LineClient(done))
    reactor.connectTCP("127.0.0.1", port, factory)
    data = await done
    later = await ensureDeferred(asyncio.sleep(0, "slept"))
    server.close()
    await server.wait_closed()
    return data, later == "slept" and reactor.running


def test_asyncio_run_program_uses_torsion_tcp() -> None:
    """asyncio.run(main()) connects with torsion's connectTCP and awaits Deferreds."""
    assert asyncio.run(tcp_program()) == (b"HELLO TORSION\n", True)


@pytest.mark.skipif("uvloop" not in LOOPS, reason="uvloop not installed")
def test_uvloop_run_program_uses_torsion_tcp() -> None:
    """The same program under uvloop."""
    import uvloop

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(tcp_program()) == (b"HELLO TORSION\n", True)
    finally:
        loop.close()


def test_gatherResults_awaited_from_asyncio(run: Any) -> None:
    """Deferred combinators work when awaited from asyncio code."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        ds: list[Deferred[int]] = [Deferred() for _ in range(3)]
        for i, d in enumerate(ds):
            loop.call_later(0.001 * (3 - i), d.callback, i)
        return await gatherResults(ds)

    assert run(main()) == [0, 1, 2]
