"""Endpoints: where to listen or connect, separate from when.

Twisted: ``twisted.internet.endpoints``.  A server endpoint has
``listen(factory) -> Deferred[IListeningPort]``; a client endpoint has
``connect(factory) -> Deferred[protocol]``.  Endpoints are built directly
(``TCP4ServerEndpoint(reactor, 8080)``) or from a description string
(``serverFromString(reactor, "tcp:8080:interface=127.0.0.1")``).

torsion additions: :func:`registerServerParser` and
:func:`registerClientParser` add description prefixes (Twisted finds them
as plugins), and ``tcp6:`` also works for clients.
"""

from torsion.internet._endpointparser import quoteStringArgument
from torsion.internet._endpointstrings import (
    clientFromString,
    registerClientParser,
    registerServerParser,
    serverFromString,
)
from torsion.internet._hostname import HostnameEndpoint
from torsion.internet._streamendpoints import (
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    TCP6ClientEndpoint,
    TCP6ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    connectProtocol,
)
from torsion.internet._tlsendpoints import (
    SSL4ClientEndpoint,
    SSL4ServerEndpoint,
    wrapClientTLS,
)

__all__ = [
    "HostnameEndpoint",
    "SSL4ClientEndpoint",
    "SSL4ServerEndpoint",
    "TCP4ClientEndpoint",
    "TCP4ServerEndpoint",
    "TCP6ClientEndpoint",
    "TCP6ServerEndpoint",
    "UNIXClientEndpoint",
    "UNIXServerEndpoint",
    "clientFromString",
    "connectProtocol",
    "quoteStringArgument",
    "registerClientParser",
    "registerServerParser",
    "serverFromString",
    "wrapClientTLS",
]
