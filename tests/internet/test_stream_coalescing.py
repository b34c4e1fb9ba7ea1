"""Write coalescing in the stream transport: the fast path keeps every rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet._stream import Connection
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.internet.defer import Deferred


class FakeAsyncioTransport:
    """Records what the connection hands to the event loop."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return None

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        pass


class Scripted(protocol.Protocol):
    def __init__(self, script: Any) -> None:
        self.script = script

    def dataReceived(self, data: bytes) -> None:
        self.script(self.transport)


def fakeConnection(script: Any) -> tuple[Connection, FakeAsyncioTransport]:
    conn = Connection(AsyncioReactor())
    fake = FakeAsyncioTransport()
    conn._t = fake
    conn._startProtocol(Scripted(script))
    return conn, fake


def test_writes_in_one_dispatch_are_one_send() -> None:
    """A hundred writes made while handling one chunk reach the loop as one write."""
    conn, fake = fakeConnection(lambda t: [t.write(b"%03d" % i) for i in range(100)])
    conn.data_received(b"go")
    assert fake.writes == [b"".join(b"%03d" % i for i in range(100))]
    conn.data_received(b"again")
    assert len(fake.writes) == 2


def test_non_bytes_refused_while_coalescing() -> None:
    """Writing str raises TypeError even after earlier writes of the same dispatch."""
    errors = []

    def script(t: Any) -> None:
        t.write(b"a")
        t.write(b"b")
        try:
            t.write("text")
        except TypeError as e:
            errors.append(e)
        t.write(b"c")

    conn, fake = fakeConnection(script)
    conn.data_received(b"go")
    assert len(errors) == 1
    assert fake.writes == [b"abc"]


def test_flush_limit_hands_data_over_early() -> None:
    """Past 64 KiB pending, data goes to the loop within the dispatch, in order."""
    conn, fake = fakeConnection(lambda t: [t.write(b"x" * 1000) for _ in range(200)])
    conn.data_received(b"go")
    assert len(fake.writes) > 1
    assert b"".join(fake.writes) == b"x" * 200_000


def test_abort_discards_pending_writes() -> None:
    """abortConnection in a dispatch drops what that dispatch wrote; later writes too."""

    def script(t: Any) -> None:
        t.write(b"lost")
        t.abortConnection()
        t.write(b"after")

    conn, fake = fakeConnection(script)
    conn.data_received(b"go")
    assert fake.writes == []
    assert fake.aborted


def write_then_close(t: Any) -> None:
    t.write(b"kept")
    t.loseConnection()
    t.write(b"dropped")


def test_close_in_dispatch_keeps_earlier_writes_only_tcp(reactor: Any) -> None:
    """Over TCP: writes before loseConnection arrive, writes after it do not."""
    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(lambda: Scripted(write_then_close)), interface="127.0.0.1"
    )
    done: Deferred[Any] = Deferred()

    class Client(protocol.Protocol):
        data = b""

        def connectionMade(self) -> None:
            self.transport.write(b"go")

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: Any) -> None:
            done.callback((self.data, reason))

    reactor.connectTCP("127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Client))
    data, reason = runUntil(reactor, done)
    assert data == b"kept"
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


@pytest.mark.parametrize("count", [1, 100, 5000])
def test_writes_to_two_connections_in_one_dispatch(reactor: Any, count: int) -> None:
    """A dispatch writing to its own and another connection delivers both, in order."""
    peers: list[Any] = []

    class Relay(protocol.Protocol):
        def connectionMade(self) -> None:
            peers.append(self)

        def dataReceived(self, data: bytes) -> None:
            for p in peers:
                for i in range(count):
                    p.transport.write(b"%d," % i)

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Relay), interface="127.0.0.1")
    expected = b"".join(b"%d," % i for i in range(count))
    results: list[Deferred[Any]] = []

    class Client(protocol.Protocol):
        def __init__(self, done: Deferred[Any], speak: bool) -> None:
            self.done = done
            self.speak = speak
            self.data = b""

        def connectionMade(self) -> None:
            if self.speak:
                self.transport.write(b"go")

        def dataReceived(self, data: bytes) -> None:
            self.data += data
            if len(self.data) >= len(expected):
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            self.done.callback(self.data)

    quiet: Deferred[Any] = Deferred()
    results.append(quiet)
    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: Client(quiet, False)),
    )
    # Wait until the server side of the quiet client exists.
    ready: Deferred[None] = Deferred()

    def poll() -> None:
        if peers:
            ready.callback(None)
        else:
            reactor.callLater(0.001, poll)

    poll()
    runUntil(reactor, ready)
    talker: Deferred[Any] = Deferred()
    results.append(talker)
    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: Client(talker, True)),
    )
    assert runUntil(reactor, quiet) == expected
    assert runUntil(reactor, talker) == expected
    runUntil(reactor, port.stopListening())
