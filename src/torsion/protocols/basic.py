"""Basic framing protocols: lines, netstrings and length-prefixed strings.

Twisted: ``twisted.protocols.basic``.  The classes keep Twisted's names,
attributes (``delimiter``, ``MAX_LENGTH``, ``line_mode``, ``paused``,
``brokenPeer``, ``structFormat``, ``prefixLength``) and callback order; the
parsing itself is the sans-IO code of :mod:`torsion.protocols._framing`,
which keeps the cost linear in the bytes received however they are split.
Where torsion differs (bounded buffers after a length error), see
``docs/compat.md``.
"""

from torsion.protocols._filesender import FileSender
from torsion.protocols._framing import NetstringParseError
from torsion.protocols._lines import LineOnlyReceiver, LineReceiver
from torsion.protocols._strings import (
    IncompleteNetstring,
    Int8StringReceiver,
    Int16StringReceiver,
    Int32StringReceiver,
    IntNStringReceiver,
    NetstringReceiver,
    StatefulStringProtocol,
    StringTooLongError,
)

__all__ = [
    "FileSender",
    "IncompleteNetstring",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
    "IntNStringReceiver",
    "LineOnlyReceiver",
    "LineReceiver",
    "NetstringParseError",
    "NetstringReceiver",
    "StatefulStringProtocol",
    "StringTooLongError",
]
