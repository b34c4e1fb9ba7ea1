"""The seed program, ported to Python 3 with its imports renamed to torsion.

From "Learning Twisted (part 7): Understanding protocol class implementation"
(2010).  The only changes: ``twisted`` -> ``torsion``, print functions, ``pass``
in the empty methods, the port from the command line, and ``reactor.run()``.

Usage: python examples/seed.py [PORT]   (default 50000)
"""

import sys

from torsion.internet import protocol, reactor
from torsion.python import log  # noqa: F401
from torsion.web import proxy  # noqa: F401  (imported by the original)


class MyProtocol(protocol.Protocol):
    def connectionLost(self, reason):
        print(reason)

    def connectionMade(self):
        print("connection made")
        print(self.transport)

    def dataReceived(self, data):
        print(data)


class myProtocolFactory:
    protocol = MyProtocol

    def doStart(self):
        pass

    def startedConnecting(self, connectorInstance):
        print(connectorInstance)

    def buildProtocol(self, address):
        print(address)
        return self.protocol()

    def clientConnectionLost(self, connection, reason):
        print(reason)
        print(connection)

    def clientConnectionFailed(self, connection, reason):
        print(connection)
        print(reason)

    def doStop(self):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
reactor.connectTCP("localhost", port, myProtocolFactory())
reactor.run()
