"""Helpers for integration tests on a real event loop (no real sleeps)."""

from __future__ import annotations

import asyncio
from typing import Any

from torsion.internet.defer import Deferred
from torsion.python.failure import Failure


def runUntil(reactor: Any, d: Deferred[Any], timeout: float = 10.0) -> Any:
    """Run ``reactor``'s loop until ``d`` fires; return its result or raise.

    Fails with ``TimeoutError`` after ``timeout`` seconds: every wait in a
    test is bounded.
    """
    loop = reactor.loop
    box: list[Any] = []

    def done(result: Any) -> None:
        box.append(result)
        if not future.done():
            future.set_result(None)

    future = loop.create_future()
    d.addBoth(done)
    try:
        loop.run_until_complete(asyncio.wait_for(future, timeout))
    except asyncio.TimeoutError:
        raise TimeoutError(f"{d!r} did not fire within {timeout} s") from None
    result = box[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result
