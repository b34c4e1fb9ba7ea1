"""Deferreds and the functions that make them: ``succeed``, ``fail``,
``execute``, ``maybeDeferred``, ``ensureDeferred``.

The :class:`Deferred` class is in :mod:`torsion.internet._deferred`, its
exceptions in :mod:`torsion.internet._deferbase`; both are re-exported here,
so other torsion modules import everything Deferred-related from this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import CoroutineType, GeneratorType
from typing import Any, TypeVar, overload

from torsion.internet._coroutines import _start
from torsion.internet._deferbase import (
    AlreadyCalledError,
    CancelledError,
    NotACoroutineError,
    TimeoutError,
    logError,
    passthru,
)
from torsion.internet._deferred import (
    _DEFERRED_TYPES,
    Deferred,
    getDebugging,
    setDebugging,
)
from torsion.python.failure import Failure

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "NotACoroutineError",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "getDebugging",
    "logError",
    "maybeDeferred",
    "passthru",
    "setDebugging",
    "succeed",
]

_T = TypeVar("_T")


def ensureDeferred(coro: Awaitable[_T] | Deferred[_T]) -> Deferred[_T]:
    """Wrap a coroutine in a Deferred (a Deferred is returned unchanged).

    Twisted: ``defer.ensureDeferred``.  Beyond Twisted, an asyncio Future or
    any other awaitable is accepted too.

    Raises:
        NotACoroutineError: if ``coro`` is not awaitable.
    """
    kind: Any = type(coro)
    if kind in _DEFERRED_TYPES:
        return coro  # type: ignore[return-value]
    if kind is CoroutineType or kind is GeneratorType or asyncio.iscoroutine(coro):
        return _start(coro)  # type: ignore[arg-type]
    if asyncio.isfuture(coro):
        return Deferred.fromFuture(coro)
    if hasattr(coro, "__await__"):

        async def adapt() -> _T:
            return await coro

        return _start(adapt())
    raise NotACoroutineError(f"{coro!r} is not a coroutine or a Deferred")


def succeed(result: _T) -> Deferred[_T]:
    """A Deferred already fired with ``result``. Twisted: ``defer.succeed``."""
    if Deferred.debug:
        d: Deferred[_T] = Deferred()
    else:
        # What Deferred() does, without the call overhead.
        d = _newObject(Deferred)
        d._callbacks = []
        d._canceller = None
    d.called = True
    d.result = result
    return d


_newObject = object.__new__


def fail(result: Failure | BaseException | None = None) -> Deferred[Any]:
    """A Deferred already failed with ``result``. Twisted: ``defer.fail``.

    Raises:
        NoCurrentExceptionError: ``result`` is None outside an ``except``.
    """
    d: Deferred[Any] = Deferred()
    d.errback(result)
    return d


def execute(callable: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
    """Call ``callable`` now; return a fired Deferred with its result or error.

    Twisted: ``defer.execute``.
    """
    try:
        result = callable(*args, **kw)
    except BaseException:
        return fail()
    return succeed(result)


@overload
def maybeDeferred(f: Callable[..., Deferred[_T]], *args: Any, **kw: Any) -> Deferred[_T]: ...
@overload
def maybeDeferred(
    f: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kw: Any
) -> Deferred[_T]: ...
@overload
def maybeDeferred(f: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]: ...
def maybeDeferred(f: Callable[..., Any], *args: Any, **kw: Any) -> Deferred[Any]:
    """Call ``f`` and always get a Deferred back.

    Twisted: ``defer.maybeDeferred``.  A returned Deferred is passed through,
    a coroutine (``async def`` result) is run as by :func:`ensureDeferred`, a
    returned Failure or a raised exception gives a failed Deferred, anything
    else a fired one.
    """
    try:
        result = f(*args, **kw)
    except BaseException:
        return fail(Failure(captureVars=Deferred.debug))
    kind = type(result)
    if kind in _DEFERRED_TYPES:
        return result  # type: ignore[no-any-return]
    if kind is CoroutineType:
        return _start(result)
    if isinstance(result, Failure):
        return fail(result)
    return succeed(result)
