"""Deferreds: results that arrive later. Twisted: ``twisted.internet.defer``.

The implementation lives in private modules; this facade is the public API.
"""

from torsion.internet._defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    TimeoutError,
    ensureDeferred,
    execute,
    fail,
    getDebugging,
    maybeDeferred,
    passthru,
    setDebugging,
    succeed,
)

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "getDebugging",
    "maybeDeferred",
    "passthru",
    "setDebugging",
    "succeed",
]
