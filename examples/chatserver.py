"""Twisted's classic chat server, with its imports renamed to torsion.

Each client first sends its name; every later line goes to all other users.

Usage: python examples/chatserver.py [PORT]   (default 8123; 0 picks a free port)
"""

import sys

from torsion.internet import reactor
from torsion.internet.protocol import Factory
from torsion.protocols.basic import LineReceiver


class Chat(LineReceiver):
    def __init__(self, users):
        self.users = users
        self.name = None
        self.state = "GETNAME"

    def connectionMade(self):
        self.sendLine(b"What's your name?")

    def connectionLost(self, reason):
        if self.name in self.users:
            del self.users[self.name]

    def lineReceived(self, line):
        if self.state == "GETNAME":
            self.handle_GETNAME(line)
        else:
            self.handle_CHAT(line)

    def handle_GETNAME(self, name):
        if name in self.users:
            self.sendLine(b"Name taken, please choose another.")
            return
        self.sendLine(b"Welcome, " + name + b"!")
        self.name = name
        self.users[name] = self
        self.state = "CHAT"

    def handle_CHAT(self, message):
        message = b"<" + self.name + b"> " + message
        for protocol in self.users.values():
            if protocol is not self:
                protocol.sendLine(message)


class ChatFactory(Factory):
    def __init__(self):
        self.users = {}

    def buildProtocol(self, addr):
        return Chat(self.users)


port = reactor.listenTCP(int(sys.argv[1]) if len(sys.argv) > 1 else 8123, ChatFactory())
reactor.callWhenRunning(print, "listening on", port.getHost().port, flush=True)
reactor.run()
