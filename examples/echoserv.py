"""Twisted's classic echo server, with its imports renamed to torsion.

Usage: python examples/echoserv.py [PORT]   (default 8000; 0 picks a free port)
"""

import sys

from torsion.internet import protocol, reactor


class Echo(protocol.Protocol):
    """Send back whatever is received."""

    def dataReceived(self, data):
        self.transport.write(data)


def main():
    factory = protocol.ServerFactory()
    factory.protocol = Echo
    port = reactor.listenTCP(int(sys.argv[1]) if len(sys.argv) > 1 else 8000, factory)
    reactor.callWhenRunning(print, "listening on", port.getHost().port, flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", print, "shutting down", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
