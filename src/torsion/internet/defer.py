"""Deferreds: results that arrive later. Twisted: ``twisted.internet.defer``.

The implementation lives in private modules; this facade is the public API:

* :mod:`torsion.internet._deferred` -- the :class:`Deferred` class;
  :mod:`torsion.internet._deferbase` -- its exceptions and unhandled-error
  reporting; :mod:`torsion.internet._defer` -- ``succeed``, ``fail``,
  ``maybeDeferred``, ``ensureDeferred`` (and re-exports of the above);
* :mod:`torsion.internet._futures` -- ``asFuture`` / ``fromFuture``;
* :mod:`torsion.internet._coroutines` -- the coroutine driver,
  ``inlineCallbacks`` and the bridge that lets asyncio Tasks ``await`` a
  Deferred;
* :mod:`torsion.internet._deferredlist` -- ``DeferredList``,
  ``gatherResults``, ``race``;
* :mod:`torsion.internet._concurrency` -- ``DeferredLock``,
  ``DeferredSemaphore``, ``DeferredQueue``.
"""

from torsion.internet._concurrency import (
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    QueueOverflow,
    QueueUnderflow,
)
from torsion.internet._coroutines import inlineCallbacks, returnValue
from torsion.internet._defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    NotACoroutineError,
    TimeoutError,
    ensureDeferred,
    execute,
    fail,
    getDebugging,
    logError,
    maybeDeferred,
    passthru,
    setDebugging,
    succeed,
)
from torsion.internet._deferbase import DebugInfo
from torsion.internet._deferredlist import (
    FAILURE,
    SUCCESS,
    DeferredList,
    FailureGroup,
    FirstError,
    gatherResults,
    race,
)

__all__ = [
    "FAILURE",
    "SUCCESS",
    "AlreadyCalledError",
    "CancelledError",
    "DebugInfo",
    "Deferred",
    "DeferredList",
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "FailureGroup",
    "FirstError",
    "NotACoroutineError",
    "QueueOverflow",
    "QueueUnderflow",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "gatherResults",
    "getDebugging",
    "inlineCallbacks",
    "logError",
    "maybeDeferred",
    "passthru",
    "race",
    "returnValue",
    "setDebugging",
    "succeed",
]
