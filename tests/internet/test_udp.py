"""UDP ports on a real loop: echo with real sockets, 10,000 datagrams without
loss, connected ports, errors and multicast options."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.internet.tlshelpers import inThread
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


class Echo(protocol.DatagramProtocol):
    def __init__(self) -> None:
        self.events: list[str] = []

    def startProtocol(self) -> None:
        self.events.append("start")

    def stopProtocol(self) -> None:
        self.events.append("stop")

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.transport.write(datagram, addr)


def test_echo_with_a_real_socket(reactor: Any) -> None:
    """A plain socket's datagrams come back from a torsion echo port."""
    echo = Echo()
    port = reactor.listenUDP(0, echo, interface="127.0.0.1")
    host = port.getHost()
    assert host.type == "UDP" and host.host == "127.0.0.1"
    assert echo.events == ["start"]

    def peer() -> list[bytes]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            out = []
            for i in range(20):
                s.sendto(b"datagram %d" % i, ("127.0.0.1", host.port))
                out.append(s.recv(100))
            return out

    assert runUntil(reactor, inThread(reactor, peer)) == [b"datagram %d" % i for i in range(20)]
    runUntil(reactor, port.stopListening())
    assert echo.events == ["start", "stop"]


def test_ten_thousand_datagrams_none_lost(reactor: Any) -> None:
    """10,000 datagrams sent with at most 64 in flight all come back exactly once."""
    total, window = 10_000, 64
    server = reactor.listenUDP(0, Echo(), interface="127.0.0.1")
    target = ("127.0.0.1", server.getHost().port)
    done: Deferred[Any] = Deferred()

    class Sender(protocol.DatagramProtocol):
        def startProtocol(self) -> None:
            self.sent = 0
            self.seen: set[int] = set()
            self.duplicates = 0
            for _ in range(window):
                self.sendOne()

        def sendOne(self) -> None:
            if self.sent < total:
                self.transport.write(b"%08d" % self.sent + b"." * 92, target)
                self.sent += 1

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            n = int(datagram[:8])
            if n in self.seen:
                self.duplicates += 1
            self.seen.add(n)
            self.sendOne()
            if len(self.seen) == total:
                done.callback(None)

    sender = Sender()
    client = reactor.listenUDP(0, sender, interface="127.0.0.1")
    runUntil(reactor, done, timeout=30)
    assert sender.seen == set(range(total))
    assert sender.duplicates == 0
    runUntil(reactor, client.stopListening())
    runUntil(reactor, server.stopListening())


def test_connected_port_refused(reactor: Any) -> None:
    """A connected port whose peer is closed gets connectionRefused()."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    deadPort = closed.getsockname()[1]
    closed.close()
    refused: Deferred[Any] = Deferred()

    class Connected(protocol.ConnectedDatagramProtocol):
        def startProtocol(self) -> None:
            self.transport.connect("127.0.0.1", deadPort)
            self.transport.write(b"anyone?")

        def connectionRefused(self) -> None:
            if not refused.called:
                refused.callback(True)

    port = reactor.listenUDP(0, Connected(), interface="127.0.0.1")
    assert runUntil(reactor, refused) is True
    assert port.getPeer().port == deadPort
    runUntil(reactor, port.stopListening())


def test_connected_port_echo(reactor: Any) -> None:
    """A connected port sends without an address and receives its peer's replies."""
    server = reactor.listenUDP(0, Echo(), interface="127.0.0.1")
    got: Deferred[Any] = Deferred()

    class Connected(protocol.ConnectedDatagramProtocol):
        def startProtocol(self) -> None:
            self.transport.connect("127.0.0.1", server.getHost().port)
            self.transport.write(b"hi")

        def datagramReceived(self, datagram: bytes, addr: Any = None) -> None:
            got.callback((datagram, addr))

    client = reactor.listenUDP(0, Connected(), interface="127.0.0.1")
    datagram, addr = runUntil(reactor, got)
    assert datagram == b"hi"
    assert addr == ("127.0.0.1", server.getHost().port)
    with pytest.raises(RuntimeError, match="already connected"):
        client.connect("127.0.0.1", 9)
    runUntil(reactor, client.stopListening())
    runUntil(reactor, server.stopListening())


def test_write_errors(reactor: Any) -> None:
    """Host names, oversized datagrams and missing addresses are refused clearly."""
    port = reactor.listenUDP(0, protocol.DatagramProtocol(), interface="127.0.0.1")
    with pytest.raises(error.InvalidAddressError):
        port.write(b"x", ("localhost", 9))
    with pytest.raises(error.MessageLengthError):
        port.write(b"x" * 70_000, ("127.0.0.1", 9))
    with pytest.raises(ValueError):
        port.write(b"x")
    with pytest.raises(error.InvalidAddressError):
        port.connect("localhost", 9)
    runUntil(reactor, port.stopListening())


def test_bind_conflict_raises_cannot_listen(reactor: Any) -> None:
    """Binding a port already in use raises CannotListenError at once."""
    first = reactor.listenUDP(0, protocol.DatagramProtocol(), interface="127.0.0.1")
    with pytest.raises(error.CannotListenError):
        reactor.listenUDP(first.getHost().port, protocol.DatagramProtocol(), interface="127.0.0.1")
    runUntil(reactor, first.stopListening())


def test_error_in_datagram_received_is_logged(reactor: Any, logged_errors: Any) -> None:
    """An exception in datagramReceived is logged and the port keeps working."""
    seen: list[bytes] = []
    second: Deferred[Any] = Deferred()

    class Flaky(protocol.DatagramProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            seen.append(datagram)
            if datagram == b"boom":
                raise ZeroDivisionError("boom")
            second.callback(None)

    port = reactor.listenUDP(0, Flaky(), interface="127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"boom", ("127.0.0.1", port.getHost().port))
        s.sendto(b"fine", ("127.0.0.1", port.getHost().port))
        runUntil(reactor, second)
    assert seen == [b"boom", b"fine"]
    assert len(logged_errors.flush(ZeroDivisionError)) == 1
    runUntil(reactor, port.stopListening())


def test_multicast_options_and_loopback(reactor: Any) -> None:
    """TTL and loopback mode round-trip; a joined group delivers our own datagram."""
    got: Deferred[Any] = Deferred()

    class Listener(protocol.DatagramProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            if not got.called:
                got.callback(datagram)

    port = reactor.listenMulticast(0, Listener(), listenMultiple=True)
    port.setTTL(3)
    assert port.getTTL() == 3
    port.setLoopbackMode(0)
    assert port.getLoopbackMode() == 0
    port.setLoopbackMode(1)
    assert port.getLoopbackMode() == 1
    try:
        runUntil(reactor, port.setOutgoingInterface("127.0.0.1"))
        runUntil(reactor, port.joinGroup("239.255.42.99", "127.0.0.1"))
    except error.MulticastJoinError as e:  # pragma: no cover - depends on the host
        runUntil(reactor, port.stopListening())
        pytest.skip(f"multicast not available on loopback here: {e}")
    assert port.getOutgoingInterface() == "127.0.0.1"
    port.write(b"to the group", ("239.255.42.99", port.getHost().port))
    assert runUntil(reactor, got) == b"to the group"
    runUntil(reactor, port.leaveGroup("239.255.42.99", "127.0.0.1"))
    runUntil(reactor, port.stopListening())


def test_join_bad_group_fails(reactor: Any) -> None:
    """Joining a non-multicast address fails with MulticastJoinError."""
    port = reactor.listenMulticast(0, protocol.DatagramProtocol())
    with pytest.raises(error.MulticastJoinError):
        runUntil(reactor, port.joinGroup("127.0.0.1"))
    runUntil(reactor, port.stopListening())
