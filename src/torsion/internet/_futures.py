"""Bridges between Deferreds and asyncio Futures (``Deferred.asFuture`` and
``Deferred.fromFuture``), with cancellation in both directions as in Twisted.

This module does not import the Deferred class: the methods pass it in.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from torsion.python.failure import Failure

__all__ = ["asFuture", "fromFuture"]

_T = TypeVar("_T")


def asFuture(d: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A Future on ``loop`` completed with ``d``'s result, which is consumed.

    Cancelling the Future cancels ``d``; cancelling ``d`` fails the Future
    with ``defer.CancelledError``.
    """
    future: asyncio.Future[Any] = loop.create_future()

    def succeeded(result: Any) -> None:
        if not future.cancelled():
            future.set_result(result)

    def failed(failure: Failure) -> None:
        if not future.cancelled():
            future.set_exception(failure.value)

    def checkCancel(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            d.cancel()

    d.addCallbacks(succeeded, failed)
    future.add_done_callback(checkCancel)
    return future


def fromFuture(cls: type[Any], plain: type[Any], future: asyncio.Future[Any]) -> Any:
    """A ``cls`` Deferred firing with ``future``'s outcome.

    Cancelling it cancels the Future and then waits for the Future to report
    how it ended (a plain ``plain`` Deferred takes over the chain meanwhile),
    so the outcome is the Future's: usually a Failure of
    ``asyncio.CancelledError``, or the result if the Future had finished.
    """
    cancelMarker = object()

    def cancel(d: Any) -> None:
        future.cancel()
        d.callback(cancelMarker)

    d = cls(cancel)
    target: Any = d

    def afterCancel(result: Any) -> Any:
        nonlocal target
        if result is cancelMarker:
            target = plain()
            return target
        return result

    def adapt(f: asyncio.Future[Any]) -> None:
        try:
            result: Any = f.result()
        except BaseException:
            result = Failure()
        target.callback(result)

    d.addCallback(afterCancel)
    future.add_done_callback(adapt)
    return d
