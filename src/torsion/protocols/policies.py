"""Protocol wrappers that add policies: timeouts, throttling, limits, logging.

Twisted: ``twisted.protocols.policies``.  A :class:`WrappingFactory` builds,
for each connection, a :class:`ProtocolWrapper` around the protocol of the
factory it wraps; the wrapper is that protocol's transport, so it sees (and
can act on) every byte in both directions.

Everything that needs time takes a clock: a ``clock`` argument or attribute
(any ``IReactorTime``, e.g. :class:`torsion.internet.task.Clock` in tests),
or, when it is None, the global reactor, looked up only when a call is
scheduled.  Overriding ``callLater`` works too, as with Twisted.
"""

from torsion.protocols._limits import (
    LimitConnectionsByPeer,
    LimitTotalConnectionsFactory,
    ThrottlingFactory,
    ThrottlingProtocol,
)
from torsion.protocols._timeouts import TimeoutFactory, TimeoutMixin, TimeoutProtocol
from torsion.protocols._wrapping import (
    ProtocolWrapper,
    SpewingFactory,
    SpewingProtocol,
    TrafficLoggingFactory,
    TrafficLoggingProtocol,
    WrappingFactory,
)

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "ThrottlingFactory",
    "ThrottlingProtocol",
    "TimeoutFactory",
    "TimeoutMixin",
    "TimeoutProtocol",
    "TrafficLoggingFactory",
    "TrafficLoggingProtocol",
    "WrappingFactory",
]
