"""The process-wide ("global") reactor.

Twisted: ``twisted.internet.main``.  Unlike Twisted, importing modules never
creates the reactor: it is made on first access to
``torsion.internet.reactor`` (or installed explicitly beforehand with
:func:`installReactor` / ``asyncioreactor.install``).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from torsion.internet import error

__all__ = ["getGlobalReactor", "installReactor", "uninstallReactor"]

_lock = threading.RLock()
_MODULE = "torsion.internet.reactor"


def installReactor(reactor: Any) -> None:
    """Make ``reactor`` the global reactor. Twisted: ``main.installReactor``.

    Raises:
        ReactorAlreadyInstalledError: if one is installed already.
    """
    with _lock:
        if _MODULE in sys.modules:
            raise error.ReactorAlreadyInstalledError("reactor already installed")
        sys.modules[_MODULE] = reactor
        import torsion.internet

        torsion.internet.reactor = reactor


def uninstallReactor() -> None:
    """Forget the global reactor (for tests that need a fresh one)."""
    with _lock:
        sys.modules.pop(_MODULE, None)
        import torsion.internet

        torsion.internet.__dict__.pop("reactor", None)


def getGlobalReactor() -> Any:
    """Return the global reactor, creating the default one if needed."""
    with _lock:
        existing = sys.modules.get(_MODULE)
        if existing is not None and not isinstance(existing, type(sys)):
            return existing
        from torsion.internet.asyncioreactor import AsyncioReactor

        reactor = AsyncioReactor()
        sys.modules[_MODULE] = reactor  # type: ignore[assignment]
        return reactor
