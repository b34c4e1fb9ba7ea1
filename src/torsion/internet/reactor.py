"""The global reactor.

``from torsion.internet import reactor`` gives the process-wide reactor,
created on first import of this module (never as a side effect of importing
anything else).  Like Twisted's module of the same name, this module replaces
itself in ``sys.modules`` with the reactor object.
"""

from __future__ import annotations

import sys
from typing import Any

from torsion.internet.main import getGlobalReactor


def __getattr__(name: str) -> Any:
    # Lets type checkers accept ``reactor.anything``; at run time the module
    # object has already been replaced by the reactor.
    return getattr(getGlobalReactor(), name)


sys.modules[__name__] = getGlobalReactor()
