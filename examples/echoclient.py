"""Twisted's classic echo client, with its imports renamed to torsion.

Usage: python examples/echoclient.py [PORT]   (default 8000)
"""

import sys

from torsion.internet import protocol, reactor


class EchoClient(protocol.Protocol):
    """Say hello, print the answer, hang up."""

    def connectionMade(self):
        self.transport.write(b"hello, world!")

    def dataReceived(self, data):
        print("Server said:", data)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        print("connection lost")


class EchoFactory(protocol.ClientFactory):
    protocol = EchoClient

    def clientConnectionFailed(self, connector, reason):
        print("Connection failed - goodbye!")
        reactor.stop()

    def clientConnectionLost(self, connector, reason):
        print("Connection lost - goodbye!")
        reactor.stop()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    reactor.connectTCP("localhost", port, EchoFactory())
    reactor.run()


if __name__ == "__main__":
    main()
