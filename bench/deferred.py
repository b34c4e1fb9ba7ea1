"""Deferred micro-benchmarks: torsion against Twisted in one run.

    python -m bench.deferred [--seconds 0.05] [--repeat 20] [--only NAME]

Each row runs the same scenario on Twisted's ``twisted.internet.defer`` and
on ``torsion.internet.defer`` (no reactor: the scenarios fire Deferreds by
hand or use each library's ``task.Clock``) and prints operations per second
and the ratio torsion / Twisted (above 1: torsion is faster).  Each figure is
the best of ``--repeat`` slices of about ``--seconds`` of CPU time each, the
two libraries measured alternately (many short alternating slices keep a busy
machine's bursts of contention from favouring either side).

The "real reactor" row runs a ``LoopingCall(f).start(0)`` on Twisted's
default reactor and on torsion's reactor (uvloop when installed).

The last rows are torsion-only asyncio interop figures (Twisted cannot
``await`` a Deferred in an asyncio Task, twisted/twisted#9806): they are
compared with awaiting plain asyncio futures instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import twisted.internet.defer as tdefer
import twisted.internet.task as ttask

import torsion.internet.defer as xdefer
import torsion.internet.task as xtask

CHAIN = 10
AWAITS = 100

# Each scenario is make(defer, task) -> a function running a batch of
# operations and returning how many it ran.
Scenario = Callable[[ModuleType, ModuleType], Callable[[], int]]


def _inc(x: int) -> int:
    return x + 1


def chain_callbacks(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """Create a Deferred, add 10 callbacks, fire it."""
    Deferred = defer.Deferred

    def run() -> int:
        for _ in range(100):
            d = Deferred()
            for _ in range(CHAIN):
                d.addCallback(_inc)
            d.callback(0)
        return 100

    return run


def chain_errbacks(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """A chain switching between the callback and errback paths."""
    Deferred = defer.Deferred

    def boom(_: object) -> None:
        raise ValueError("x")

    def recover(f: Any) -> int:
        f.trap(ValueError)
        return 1

    def run() -> int:
        for _ in range(100):
            d = Deferred()
            d.addCallback(boom)
            d.addCallback(_inc)
            d.addErrback(recover)
            d.addCallback(_inc)
            d.callback(0)
        return 100

    return run


def chain_nested(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """Callbacks returning unfired Deferreds (the chaining rule), 10 deep."""
    Deferred = defer.Deferred

    def run() -> int:
        for _ in range(20):
            inners = [Deferred() for _ in range(CHAIN)]
            d = Deferred()
            for inner in inners:
                d.addCallback(lambda _, inner=inner: inner)
            d.callback(0)
            for inner in inners:
                inner.callback(1)
        return 20

    return run


def await_fired(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """ensureDeferred of a coroutine awaiting 100 already-fired Deferreds."""
    succeed, ensureDeferred = defer.succeed, defer.ensureDeferred

    async def body() -> int:
        total = 0
        for _ in range(AWAITS):
            total += await succeed(1)
        return total

    def run() -> int:
        ensureDeferred(body())
        return AWAITS

    return run


def await_unfired(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """A coroutine awaiting 100 Deferreds that fire after it suspends."""
    Deferred, ensureDeferred = defer.Deferred, defer.ensureDeferred

    def run() -> int:
        ds = [Deferred() for _ in range(AWAITS)]

        async def body() -> int:
            total = 0
            for d in ds:
                total += await d
            return total

        ensureDeferred(body())
        for d in ds:
            d.callback(1)
        return AWAITS

    return run


def inline_callbacks(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """inlineCallbacks yielding 100 Deferreds, half of them unfired."""
    Deferred, succeed = defer.Deferred, defer.succeed

    def run() -> int:
        ds = [Deferred() for _ in range(AWAITS // 2)]

        @defer.inlineCallbacks
        def body() -> Any:
            total = 0
            for d in ds:
                total += yield succeed(1)
                total += yield d
            return total

        body()
        for d in ds:
            d.callback(1)
        return AWAITS

    return run


def inline_callbacks_calls(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """100 calls of a small inlineCallbacks function (one fired yield each)."""
    succeed = defer.succeed

    @defer.inlineCallbacks
    def small() -> Any:
        value = yield succeed(1)
        return value

    def run() -> int:
        for _ in range(100):
            small()
        return 100

    return run


def looping_call(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """A LoopingCall on a fake Clock: 100 intervals."""
    calls = [0]

    def tick() -> None:
        calls[0] += 1

    def run() -> int:
        clock = task.Clock()
        lc = task.LoopingCall(tick)
        lc.clock = clock
        lc.start(1.0)
        for _ in range(100):
            clock.advance(1.0)
        lc.stop()
        return 100

    return run


def deferred_list(defer: ModuleType, task: ModuleType) -> Callable[[], int]:
    """gatherResults over 20 Deferreds fired one by one."""
    Deferred = defer.Deferred

    def run() -> int:
        ds = [Deferred() for _ in range(20)]
        defer.gatherResults(ds)
        for d in ds:
            d.callback(1)
        return 20

    return run


ROWS: list[tuple[str, Scenario]] = [
    ("callback chain (10 callbacks)", chain_callbacks),
    ("errback switching chain", chain_errbacks),
    ("callbacks returning unfired Deferreds", chain_nested),
    ("await fired Deferred", await_fired),
    ("await unfired Deferred", await_unfired),
    ("inlineCallbacks yields", inline_callbacks),
    ("inlineCallbacks calls", inline_callbacks_calls),
    ("LoopingCall on Clock (per interval)", looping_call),
    ("gatherResults (per Deferred)", deferred_list),
]


def _rate(run: Callable[[], int], seconds: float) -> float:
    """Operations per CPU second over about ``seconds`` of CPU time.

    CPU time of this process, not wall time: on a shared machine that keeps
    other processes' load out of the figure.
    """
    gc.collect()
    ops = 0
    clock = time.process_time
    start = clock()
    deadline = start + seconds
    while True:
        ops += run()
        now = clock()
        if now >= deadline:
            break
    return ops / (now - start)


def compare(
    a: Callable[[], int], b: Callable[[], int], seconds: float, repeat: int
) -> tuple[float, float]:
    """Best rates of ``a`` and ``b``, measured alternately ``repeat`` times."""
    a()  # warm up
    b()
    bestA = bestB = 0.0
    for _ in range(repeat):
        bestA = max(bestA, _rate(a, seconds))
        bestB = max(bestB, _rate(b, seconds))
    return bestA, bestB


def asyncio_rows(seconds: float, repeat: int) -> list[tuple[str, float, float]]:
    """await in a plain asyncio Task: torsion Deferreds vs asyncio futures."""
    out = []
    loop = asyncio.new_event_loop()
    try:
        n = 200

        async def awaitDeferreds() -> int:
            ds = [xdefer.Deferred() for _ in range(n)]
            for i, d in enumerate(ds):
                loop.call_soon(d.callback, i)
            for d in ds:
                await d
            return n

        async def awaitFutures() -> int:
            fs = [loop.create_future() for _ in range(n)]
            for i, f in enumerate(fs):
                loop.call_soon(f.set_result, i)
            for f in fs:
                await f
            return n

        async def awaitFired() -> int:
            for _ in range(n):
                await xdefer.succeed(1)
            return n

        async def awaitDone() -> int:
            for _ in range(n):
                f = loop.create_future()
                f.set_result(1)
                await f
            return n

        for label, ours, theirs in [
            ("asyncio Task: await unfired", awaitDeferreds, awaitFutures),
            ("asyncio Task: await fired", awaitFired, awaitDone),
        ]:
            a, b = compare(
                lambda f=ours: loop.run_until_complete(f()),
                lambda f=theirs: loop.run_until_complete(f()),
                seconds,
                repeat,
            )
            out.append((label, a, b))
    finally:
        loop.close()
    return out


def _loopingOnReactor(reactor: Any, LoopingCall: Any, seconds: float, repeat: int) -> float:
    """Best rate of a LoopingCall(f).start(0) on a running reactor.

    Sampled in ``repeat`` slices of about ``seconds`` CPU seconds each, within
    one reactor run (Twisted's reactor cannot be restarted).
    """
    count = [0]

    def tick() -> None:
        count[0] += 1

    best = [0.0]
    mark = [time.process_time(), 0]
    slices = [0]

    def sample() -> None:
        now = time.process_time()
        spent = now - mark[0]
        if spent < seconds:
            return
        best[0] = max(best[0], (count[0] - mark[1]) / spent)
        mark[0], mark[1] = now, count[0]
        slices[0] += 1
        if slices[0] > repeat:
            loop.stop()
            sampler.stop()
            reactor.stop()

    loop = LoopingCall(tick)
    loop.clock = reactor
    sampler = LoopingCall(sample)
    sampler.clock = reactor
    reactor.callWhenRunning(loop.start, 0)
    reactor.callWhenRunning(sampler.start, seconds / 10)
    reactor.run(installSignalHandlers=False)
    return best[0]


def reactor_row(seconds: float, repeat: int) -> tuple[float, float]:
    """LoopingCall(interval=0) on Twisted's default reactor and on torsion's (uvloop)."""
    from twisted.internet import reactor as treactor

    from torsion.internet._loops import newEventLoop
    from torsion.internet.asyncioreactor import AsyncioReactor

    # One long run each (Twisted's reactor cannot be restarted), sampled in
    # slices of at least 0.1 s so the sampler itself stays negligible.
    slice_ = max(seconds, 0.1)
    twisted = _loopingOnReactor(treactor, ttask.LoopingCall, slice_, repeat // 2)
    torsion = _loopingOnReactor(
        AsyncioReactor(newEventLoop()), xtask.LoopingCall, slice_, repeat // 2
    )
    return twisted, torsion


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", default=None, help="run rows whose name contains this")
    args = parser.parse_args(argv)

    # Warm up every scenario first so the first row is not penalised.
    for _, make in ROWS:
        for defer, task in ((tdefer, ttask), (xdefer, xtask)):
            _rate(make(defer, task), args.seconds)
    print(f"{'scenario':40} {'Twisted ops/s':>14} {'torsion ops/s':>14} {'ratio':>7}")
    worst = None
    for name, make in ROWS:
        if args.only and args.only not in name:
            continue
        twisted, torsion = compare(
            make(tdefer, ttask), make(xdefer, xtask), args.seconds, args.repeat
        )
        ratio = torsion / twisted
        worst = ratio if worst is None else min(worst, ratio)
        print(f"{name:40} {twisted:14,.0f} {torsion:14,.0f} {ratio:6.2f}x")
    if not args.only or "reactor" in args.only:
        twisted, torsion = reactor_row(args.seconds, args.repeat)
        ratio = torsion / twisted
        worst = ratio if worst is None else min(worst, ratio)
        name = "LoopingCall(0) on a real reactor"
        print(f"{name:40} {twisted:14,.0f} {torsion:14,.0f} {ratio:6.2f}x")
    if worst is not None:
        print(f"worst ratio torsion/Twisted: {worst:.2f}x")
    if not args.only or "asyncio" in args.only:
        print()
        print(f"{'torsion in asyncio':40} {'asyncio fut/s':>14} {'Deferred/s':>14} {'ratio':>7}")
        for label, ours, theirs in asyncio_rows(args.seconds, args.repeat):
            print(f"{label:40} {theirs:14,.0f} {ours:14,.0f} {ours / theirs:6.2f}x")


if __name__ == "__main__":
    main()
