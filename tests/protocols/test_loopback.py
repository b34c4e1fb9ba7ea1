"""torsion.protocols.loopback: protocols connected in memory or over loopback TCP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, task
from torsion.internet.defer import Deferred
from torsion.internet.protocol import Protocol
from torsion.protocols import basic, loopback


def settle(clock: task.Clock, d: Deferred[Any], rounds: int = 1000) -> Any:
    """Advance ``clock`` by 0 until ``d`` fires; return its result."""
    box: list[Any] = []
    d.addBoth(box.append)
    for _ in range(rounds):
        if box:
            return box[0]
        clock.advance(0)
    raise AssertionError(f"{d!r} never fired")


class SimpleProtocol(basic.LineReceiver):
    def __init__(self) -> None:
        self.conn: Deferred[None] = Deferred()
        self.lines: list[bytes] = []
        self.connLost: list[Any] = []

    def connectionMade(self) -> None:
        self.conn.callback(None)

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def connectionLost(self, reason: Any) -> None:
        self.connLost.append(reason)


class DoomProtocol(SimpleProtocol):
    i = 0

    def lineReceived(self, line: bytes) -> None:
        self.i += 1
        if self.i < 4:
            self.sendLine(b"Hello %d" % (self.i,))
        SimpleProtocol.lineReceived(self, line)
        if self.lines[-1] == b"Hello 3":
            self.transport.loseConnection()


def regular(run: Any) -> None:
    s, c = SimpleProtocol(), SimpleProtocol()

    def sendALine(_: object) -> None:
        s.sendLine(b"THIS IS LINE ONE!")
        s.transport.loseConnection()

    s.conn.addCallback(sendALine)
    run(s, c)
    assert c.lines == [b"THIS IS LINE ONE!"]
    assert len(s.connLost) == len(c.connLost) == 1
    assert c.connLost[0].check(error.ConnectionDone)


def doom(run: Any) -> None:
    s, c = DoomProtocol(), DoomProtocol()
    s.conn.addCallback(lambda _: s.sendLine(b"DOOM LINE"))
    run(s, c)
    assert s.lines == [b"Hello 1", b"Hello 2", b"Hello 3"]
    assert c.lines == [b"DOOM LINE", b"Hello 1", b"Hello 2", b"Hello 3"]
    assert len(s.connLost) == len(c.connLost) == 1


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


def test_async_regular(clock: task.Clock) -> None:
    """A line written then a close arrive, and both sides are disconnected once."""
    regular(lambda s, c: settle(clock, loopback.loopbackAsync(s, c, clock=clock)))


def test_async_conversation_until_close(clock: task.Clock) -> None:
    """A back-and-forth conversation runs until one side closes."""
    doom(lambda s, c: settle(clock, loopback.loopbackAsync(s, c, clock=clock)))


def test_tcp_regular(reactor: Any) -> None:
    """loopbackTCP: the same scenario over a real connection."""
    regular(
        lambda s, c: runUntil(reactor, loopback.loopbackTCP(s, c, noisy=False, reactor=reactor))
    )


def test_tcp_conversation_until_close(reactor: Any) -> None:
    """loopbackTCP: the conversation scenario over a real connection."""
    doom(lambda s, c: runUntil(reactor, loopback.loopbackTCP(s, c, noisy=False, reactor=reactor)))


def test_async_on_real_reactor(reactor: Any) -> None:
    """loopbackAsync works with the real reactor as its clock."""
    doom(lambda s, c: runUntil(reactor, loopback.loopbackAsync(s, c, clock=reactor)))


def test_make_connection_and_addresses(clock: task.Clock) -> None:
    """Both sides get makeConnection; host and peer are loopback addresses."""
    server, client = Protocol(), Protocol()
    d = loopback.loopbackAsync(server, client, clock=clock)
    for p in (server, client):
        assert isinstance(p.transport.getHost(), loopback._LoopbackAddress)
        assert isinstance(p.transport.getPeer(), loopback._LoopbackAddress)
    server.transport.loseConnection()
    assert settle(clock, d) is None
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize("method", ["write", "writeSequence"])
@pytest.mark.parametrize("fromServer", [True, False])
def test_greetings(clock: task.Clock, method: str, fromServer: bool) -> None:
    """Bytes written from connectionMade reach the other side."""
    received: Deferred[bytes] = Deferred()

    class Greetee(Protocol):
        data = b""

        def dataReceived(self, data: bytes) -> None:
            self.data += data
            if self.data == b"bytes":
                received.callback(self.data)

    class Greeter(Protocol):
        def connectionMade(self) -> None:
            if method == "write":
                self.transport.write(b"bytes")
            else:
                self.transport.writeSequence([b"by", b"tes"])

    server, client = (Greeter(), Greetee()) if fromServer else (Greetee(), Greeter())
    loopback.loopbackAsync(server, client, clock=clock)
    assert settle(clock, received) == b"bytes"


def test_pull_producer(clock: task.Clock) -> None:
    """A pull producer is asked for more each time its output was delivered."""
    toProduce = [b"%d" % i for i in range(10)]
    received: Deferred[bytes] = Deferred()

    class PullProducer:
        def __init__(self, consumer: Any) -> None:
            self.consumer = consumer
            self.left = list(toProduce)
            consumer.registerProducer(self, False)

        def resumeProducing(self) -> None:
            self.consumer.write(self.left.pop(0))
            if not self.left:
                self.consumer.unregisterProducer()

    class Producing(Protocol):
        def connectionMade(self) -> None:
            self.producer = PullProducer(self.transport)

    class Receiving(Protocol):
        data = b""

        def dataReceived(self, data: bytes) -> None:
            self.data += data
            if self.data == b"".join(toProduce):
                received.callback(self.data)

    loopback.loopbackAsync(Producing(), Receiving(), clock=clock)
    assert settle(clock, received) == b"0123456789"


def test_write_is_not_reentrant(clock: task.Clock) -> None:
    """dataReceived is never called from inside the other side's write()."""

    class Server(Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(b"bytes")

    class Client(Protocol):
        ready = False
        wasReady: bool | None = None

        def connectionMade(self) -> None:
            clock.callLater(0, self.go)

        def go(self) -> None:
            self.transport.write(b"foo")
            self.ready = True

        def dataReceived(self, data: bytes) -> None:
            self.wasReady = self.ready
            self.transport.loseConnection()

    client = Client()
    settle(clock, loopback.loopbackAsync(client, Server(), clock=clock))
    assert client.wasReady is True


def test_pump_policy_gets_queue_and_target(clock: task.Clock) -> None:
    """The pump policy is called with each side's queue and the other side."""
    calls: list[Any] = []

    def policy(queue: Any, target: Any) -> None:
        chunks = []
        while queue:
            chunks.append(queue.get())
        calls.append((target, chunks))

    client, server = Protocol(), Protocol()
    finished = loopback.loopbackAsync(server, client, policy, clock=clock)
    assert calls == []
    client.transport.write(b"foo")
    client.transport.write(b"bar")
    server.transport.write(b"baz")
    server.transport.write(b"quux")
    server.transport.loseConnection()
    settle(clock, finished)
    assert calls == [(client, [b"baz", b"quux", None]), (server, [b"foo", b"bar"])]


def test_identity_and_collapsing_policies() -> None:
    """identityPumpPolicy delivers each chunk; collapsingPumpPolicy joins them."""
    for policy, expected in (
        (loopback.identityPumpPolicy, [b"foo", b"bar"]),
        (loopback.collapsingPumpPolicy, [b"foobar"]),
    ):
        received: list[bytes] = []
        target = Protocol()
        target.dataReceived = received.append  # type: ignore[method-assign]
        queue = loopback._LoopbackQueue()
        for item in (b"foo", b"bar", None):
            queue.put(item)
        policy(queue, target)
        assert received == expected


def test_loopback_transport_refuses_text(clock: task.Clock) -> None:
    """Writing str to a loopback transport raises TypeError."""
    server, client = Protocol(), Protocol()
    loopback.loopbackAsync(server, client, clock=clock)
    with pytest.raises(TypeError):
        server.transport.write("text")


def test_relay_buffers_until_cleared() -> None:
    """LoopbackRelay delivers writes and a close only on clearBuffer."""

    class Receiver(Protocol):
        data = b""
        lost: Any = None

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: Any) -> None:
            self.lost = reason

    receiver = Receiver()
    relay = loopback.LoopbackRelay(receiver)
    relay.write(b"abc")
    relay.writeSequence([b"de", b"f"])
    assert receiver.data == b""
    relay.clearBuffer()
    assert receiver.data == b"abcdef"
    relay.loseConnection()
    relay.clearBuffer()
    assert receiver.lost.check(error.ConnectionDone)
    relay.write(b"late")
    relay.clearBuffer()
    assert receiver.data == b"abcdef"
