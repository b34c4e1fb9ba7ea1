"""The basic protocols over real loopback TCP connections, on both event loops."""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred
from torsion.protocols import basic


def listen(reactor: Any, proto: Any) -> Any:
    factory = protocol.Factory.forProtocol(proto)
    factory.noisy = False
    return reactor.listenTCP(0, factory, interface="127.0.0.1")


def connect(reactor: Any, port: Any, proto: Any) -> None:
    factory = protocol.ClientFactory.forProtocol(proto)
    factory.noisy = False
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)


class LineEcho(basic.LineReceiver):
    def lineReceived(self, line: bytes) -> None:
        if line == b"quit":
            self.transport.loseConnection()
        else:
            self.sendLine(b"echo " + line)


class LineClient(basic.LineReceiver):
    """Sends batches of lines, checks every answer, then says quit."""

    def __init__(self, batches: int, perBatch: int, done: Deferred[Any]) -> None:
        self.batches = batches
        self.perBatch = perBatch
        self.done = done
        self.answers: list[bytes] = []
        self.sent = 0

    def connectionMade(self) -> None:
        self.sendBatch()

    def sendBatch(self) -> None:
        lines = [b"line %d" % (self.sent * self.perBatch + i) for i in range(self.perBatch)]
        self.transport.write(b"".join(line + b"\r\n" for line in lines))
        self.sent += 1

    def lineReceived(self, line: bytes) -> None:
        self.answers.append(line)
        if len(self.answers) == self.sent * self.perBatch:
            if self.sent < self.batches:
                self.sendBatch()
            else:
                self.sendLine(b"quit")

    def connectionLost(self, reason: Any) -> None:
        self.done.callback((self.answers, reason))


def test_pipelined_line_batches(reactor: Any) -> None:
    """Batches of 100 lines are each answered line by line, in order."""
    port = listen(reactor, LineEcho)
    done: Deferred[Any] = Deferred()
    connect(reactor, port, lambda: LineClient(20, 100, done))
    answers, reason = runUntil(reactor, done)
    assert answers == [b"echo line %d" % i for i in range(2000)]
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


class StringEcho(basic.Int32StringReceiver):
    MAX_LENGTH = 4_000_000

    def stringReceived(self, string: bytes) -> None:
        self.sendString(string[::-1])


class StringClient(basic.Int32StringReceiver):
    MAX_LENGTH = 4_000_000

    def __init__(self, strings: list[bytes], done: Deferred[Any]) -> None:
        self.strings = strings
        self.done = done
        self.received: list[bytes] = []

    def connectionMade(self) -> None:
        for s in self.strings:
            self.sendString(s)

    def stringReceived(self, string: bytes) -> None:
        self.received.append(string)
        if len(self.received) == len(self.strings):
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback(self.received)


def test_int32_strings_small_and_large(reactor: Any) -> None:
    """Int32 strings from empty to 3 MB arrive whole across many TCP reads."""
    port = listen(reactor, StringEcho)
    strings = [b"", b"a", bytes(range(256)) * 4, b"x" * 3_000_000, b"tail"]
    done: Deferred[Any] = Deferred()
    connect(reactor, port, lambda: StringClient(strings, done))
    assert runUntil(reactor, done) == [s[::-1] for s in strings]
    runUntil(reactor, port.stopListening())


def test_long_line_closes_the_connection(reactor: Any) -> None:
    """By default an over-long line closes the server side of the connection."""
    lost: Deferred[Any] = Deferred()

    class Server(basic.LineReceiver):
        MAX_LENGTH = 100

        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = listen(reactor, Server)
    clientDone: Deferred[Any] = Deferred()

    class Client(protocol.Protocol):
        received = b""

        def connectionMade(self) -> None:
            self.transport.write(b"short\r\n" + b"x" * 1000)

        def dataReceived(self, data: bytes) -> None:
            self.received += data

        def connectionLost(self, reason: Any) -> None:
            clientDone.callback(self.received)

    connect(reactor, port, Client)
    [reason] = runUntil(reactor, lost)
    assert reason.check(error.ConnectionDone)
    assert runUntil(reactor, clientDone) == b"short\r\n"
    runUntil(reactor, port.stopListening())


def test_pause_stops_reading_until_resumed(reactor: Any) -> None:
    """A LineReceiver paused by its own code resumes later and loses nothing."""
    done: Deferred[Any] = Deferred()

    class Slow(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line.endswith(b"0"):
                self.pauseProducing()
                reactor.callLater(0.001, self.resumeProducing)
            if line == b"end":
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            done.callback(self.lines)

    port = listen(reactor, Slow)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"".join(b"%d\r\n" % i for i in range(300)) + b"end\r\n")

    connect(reactor, port, Client)
    assert runUntil(reactor, done) == [b"%d" % i for i in range(300)] + [b"end"]
    runUntil(reactor, port.stopListening())


def test_file_sender_over_tcp(reactor: Any) -> None:
    """FileSender streams a file through a real transport and fires with the last byte."""
    content = bytes(range(256)) * 4096
    sent: Deferred[Any] = Deferred()

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            d = basic.FileSender().beginFileTransfer(BytesIO(content), self.transport)
            d.addCallback(lambda last: (self.transport.loseConnection(), last)[1])
            d.chainDeferred(sent)

    port = listen(reactor, Sender)
    received: Deferred[Any] = Deferred()

    class Receiver(protocol.Protocol):
        data = b""

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: Any) -> None:
            received.callback(self.data)

    connect(reactor, port, Receiver)
    assert runUntil(reactor, sent) == b"\xff"
    assert runUntil(reactor, received) == content
    runUntil(reactor, port.stopListening())


def test_broken_netstring_peer_is_dropped(reactor: Any) -> None:
    """A peer sending an invalid netstring is disconnected and marked broken."""
    lost: Deferred[Any] = Deferred()

    class Server(basic.NetstringReceiver):
        def connectionMade(self) -> None:
            self.strings: list[bytes] = []

        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)

        def connectionLost(self, reason: Any) -> None:
            lost.callback((self.strings, self.brokenPeer))

    port = listen(reactor, Server)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"3:abc,5:hello,2:xyz,")

    connect(reactor, port, Client)
    assert runUntil(reactor, lost) == ([b"abc", b"hello"], 1)
    runUntil(reactor, port.stopListening())


def test_int16_length_limit_over_tcp(reactor: Any) -> None:
    """An oversized Int16 prefix calls lengthLimitExceeded, which closes."""
    lost: Deferred[Any] = Deferred()

    class Server(basic.Int16StringReceiver):
        MAX_LENGTH = 10

        def stringReceived(self, string: bytes) -> None:
            pass

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = listen(reactor, Server)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(struct.pack("!H", 11) + b"x" * 11)

    connect(reactor, port, Client)
    [reason] = runUntil(reactor, lost)
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())
