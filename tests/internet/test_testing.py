"""The test doubles behave like Twisted's (checked side by side)."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet import error, protocol, task, testing
from torsion.internet.address import IPv4Address

twistedTesting = pytest.importorskip("twisted.internet.testing")
twistedTask = pytest.importorskip("twisted.internet.task")
twistedProtocol = pytest.importorskip("twisted.internet.protocol")


@pytest.mark.parametrize("impl", ["torsion", "twisted"])
def test_string_transport(impl: str) -> None:
    """value/clear/write checks, loseConnection only flags, producer bookkeeping."""
    mod: Any = testing if impl == "torsion" else twistedTesting
    t = mod.StringTransport()
    t.write(b"ab")
    t.writeSequence([b"c", b"d"])
    assert t.value() == b"abcd"
    t.clear()
    assert t.value() == b""
    with pytest.raises(TypeError):
        t.write("str")
    assert (t.getPeer().host, t.getPeer().port) == ("192.168.1.1", 54321)
    assert (t.getHost().host, t.getHost().port) == ("10.0.0.1", 12345)
    producer = object()
    t.registerProducer(producer, True)
    with pytest.raises(RuntimeError):
        t.registerProducer(producer, True)
    t.unregisterProducer()
    with pytest.raises(RuntimeError):
        t.unregisterProducer()
    t.pauseProducing()
    assert t.producerState == "paused"
    t.loseConnection()
    assert t.disconnecting and not t.disconnected
    with pytest.raises(RuntimeError):
        t.resumeProducing()
    t.abortConnection()
    assert t.disconnected


@pytest.mark.parametrize("impl", ["torsion", "twisted"])
def test_string_transport_with_disconnection(impl: str) -> None:
    """loseConnection calls connectionLost once with ConnectionDone."""
    mod: Any = testing if impl == "torsion" else twistedTesting
    t = mod.StringTransportWithDisconnection()
    p = mod.AccumulatingProtocol()
    t.protocol = p
    p.makeConnection(t)
    p.dataReceived(b"x")
    t.loseConnection()
    t.loseConnection()
    assert p.made == 1 and p.data == b"x" and p.closed == 1
    assert type(p.closedReason.value).__name__ == "ConnectionDone"


def test_memory_reactor_records_calls() -> None:
    """MemoryReactor records listen/connect calls and tells factories they started."""
    r = testing.MemoryReactorClock()
    started: list[Any] = []

    class F(protocol.ClientFactory):
        def startedConnecting(self, connector: Any) -> None:
            started.append(connector)

    f = F()
    port = r.listenTCP(1234, f, interface="127.0.0.1")
    assert port.getHost() == IPv4Address("TCP", "0.0.0.0", 1234)
    assert r.tcpServers == [(1234, f, 50, "127.0.0.1")]
    conn = r.connectTCP("example.com", 80, f, timeout=5)
    assert r.tcpClients == [("example.com", 80, f, 5, None)]
    assert started == [conn] and conn.getDestination().host == "example.com"
    conn.stopConnecting()
    assert conn.stoppedConnecting
    calls: list[str] = []
    r.callLater(2, calls.append, "later")
    r.advance(1)
    assert calls == []
    r.advance(1)
    assert calls == ["later"]
    r.callWhenRunning(calls.append, "running")
    r.run()
    assert calls == ["later", "running"] and r.hasRun and r.hasStopped


@pytest.mark.parametrize("impl", ["torsion", "twisted"])
def test_clock_semantics(impl: str) -> None:
    """Clock runs due calls in time order; reset/delay move calls; cancel errors."""
    mod: Any = task if impl == "torsion" else twistedTask
    clock = mod.Clock()
    calls: list[Any] = []
    a = clock.callLater(1, calls.append, "a")
    clock.callLater(2, calls.append, "b")
    c = clock.callLater(3, calls.append, "c")
    clock.callLater(1, calls.append, "a2")
    a.reset(2.5)
    c.delay(-2.5)
    clock.pump([0.5, 0.5, 1, 1])
    assert calls == ["c", "a2", "b", "a"]
    assert clock.seconds() == 3
    d = clock.callLater(1, calls.append, "d")
    d.cancel()
    errors: Any = error if impl == "torsion" else pytest.importorskip("twisted.internet.error")
    with pytest.raises(errors.AlreadyCancelled):
        d.cancel()
    with pytest.raises(errors.AlreadyCalled):
        a.cancel()
    assert clock.getDelayedCalls() == []


def test_clock_call_exceptions_propagate() -> None:
    """An exception raised by a call escapes Clock.advance (as in Twisted)."""
    clock = task.Clock()
    clock.callLater(0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        clock.advance(0)


def test_non_streaming_producer() -> None:
    """NonStreamingProducer writes ten digits then unregisters and fires."""
    t = testing.StringTransport()
    producer = testing.NonStreamingProducer(t)
    t.registerProducer(producer, False)
    done: list[Any] = []
    producer.result.addCallback(done.append)
    for _ in range(10):
        producer.resumeProducing()
    assert t.value() == b"0123456789" and t.producer is None and done == [None]


def test_raising_memory_reactor() -> None:
    """RaisingMemoryReactor raises the configured exceptions."""
    r = testing.RaisingMemoryReactor(ValueError("listen"), KeyError("connect"))
    with pytest.raises(ValueError):
        r.listenTCP(1, None)
    with pytest.raises(KeyError):
        r.connectTCP("h", 1, None)
