"""TLS transports on a real loop: listenSSL/connectSSL against torsion itself and
against Python's ``ssl`` module, handshake and certificate failures, timeouts,
flushing before close_notify and truncation."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest

from tests.internet.tlshelpers import (
    ca,
    clientContext,
    inThread,
    leaf,
    recvAll,
    serverContext,
)
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred
from torsion.internet.ssl import Certificate, optionsForClientTLS


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Collect(protocol.Protocol):
    """Sends ``payload`` on connect and closes once it has come back."""

    def __init__(self, payload: bytes, done: Deferred[Any]) -> None:
        self.payload = payload
        self.done = done
        self.received = b""
        self.peerCertificate: Any = None

    def connectionMade(self) -> None:
        self.peerCertificate = self.transport.getPeerCertificate()
        self.transport.write(self.payload)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= len(self.payload):
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback((self.received, reason))


class FailFactory(protocol.ClientFactory):
    """Fires ``failed`` with the reason given to clientConnectionFailed."""

    def __init__(self) -> None:
        self.failed: Deferred[Any] = Deferred()
        self.built = 0

    def buildProtocol(self, addr: Any) -> Any:
        self.built += 1
        return protocol.Protocol()

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.failed.callback([reason])


def listenEcho(reactor: Any, **kw: Any) -> Any:
    return reactor.listenSSL(
        0, protocol.Factory.forProtocol(Echo), serverContext(), interface="127.0.0.1", **kw
    )


def test_echo_between_torsion_peers(reactor: Any) -> None:
    """A torsion TLS client and server exchange 200 kB and close cleanly."""
    port = listenEcho(reactor)
    done: Deferred[Any] = Deferred()
    client = Collect(b"y" * 200_000, done)
    options = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(ca().certPEM))
    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: client),
        options,
    )
    received, reason = runUntil(reactor, done)
    assert received == b"y" * 200_000
    assert reason.check(error.ConnectionDone)
    assert client.peerCertificate["subject"] == ((("commonName", "localhost"),),)
    runUntil(reactor, port.stopListening())


def test_server_against_python_ssl_client(reactor: Any) -> None:
    """listenSSL serves a client made with Python's ssl module."""
    port = listenEcho(reactor)
    number = port.getHost().port

    def client() -> bytes:
        with (
            socket.create_connection(("127.0.0.1", number), timeout=10) as raw,
            clientContext().wrap_socket(raw, server_hostname="localhost") as s,
        ):
            s.sendall(b"ping" * 1000)
            got = b""
            while len(got) < 4000:
                got += s.recv(65536)
            s.unwrap()
            return got

    assert runUntil(reactor, inThread(reactor, client)) == b"ping" * 1000
    runUntil(reactor, port.stopListening())


def test_client_against_python_ssl_server(reactor: Any) -> None:
    """connectSSL talks to a server made with Python's ssl module."""
    listener = socket.create_server(("127.0.0.1", 0))
    number = listener.getsockname()[1]

    def server() -> bytes:
        conn, _ = listener.accept()
        with serverContext().wrap_socket(conn, server_side=True) as s:
            data = recvAll(s)
            return data

    served = inThread(reactor, server)
    done: Deferred[Any] = Deferred()

    class Send(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"hello over tls")
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            done.callback([reason])

    reactor.connectSSL(
        "127.0.0.1", number, protocol.ClientFactory.forProtocol(Send), clientContext()
    )
    try:
        assert runUntil(reactor, served) == b"hello over tls"
        assert runUntil(reactor, done)[0].check(error.ConnectionDone)
    finally:
        listener.close()


def test_wrong_hostname_fails_clearly(reactor: Any) -> None:
    """A certificate for another name fails the connection with the hostname mismatch."""
    port = listenEcho(reactor)
    factory = FailFactory()
    options = optionsForClientTLS("wrong.example", trustRoot=Certificate.loadPEM(ca().certPEM))
    reactor.connectSSL("127.0.0.1", port.getHost().port, factory, options)
    [reason] = runUntil(reactor, factory.failed)
    assert reason.check(ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in reason.getErrorMessage()
    assert "wrong.example" in reason.getErrorMessage()
    assert factory.built == 0
    runUntil(reactor, port.stopListening())


def test_expired_certificate_fails_clearly(reactor: Any) -> None:
    """An expired server certificate fails the connection saying it has expired."""
    port = reactor.listenSSL(
        0,
        protocol.Factory.forProtocol(Echo),
        serverContext(leaf(expired=True)),
        interface="127.0.0.1",
    )
    factory = FailFactory()
    reactor.connectSSL("127.0.0.1", port.getHost().port, factory, clientContext())
    [reason] = runUntil(reactor, factory.failed)
    assert reason.check(ssl.SSLCertVerificationError)
    assert "certificate has expired" in reason.getErrorMessage()
    runUntil(reactor, port.stopListening())


def test_untrusted_certificate_fails(reactor: Any) -> None:
    """With the platform's trust roots, the test CA's certificate is refused."""
    port = listenEcho(reactor)
    factory = FailFactory()
    reactor.connectSSL("127.0.0.1", port.getHost().port, factory, optionsForClientTLS("localhost"))
    [reason] = runUntil(reactor, factory.failed)
    assert reason.check(ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in reason.getErrorMessage()
    runUntil(reactor, port.stopListening())


def test_client_handshake_timeout(reactor: Any) -> None:
    """A server that never answers the ClientHello fails the client with TimeoutError."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)

    inThread(reactor, accept)
    factory = FailFactory()
    reactor.connectSSL(
        "127.0.0.1",
        listener.getsockname()[1],
        factory,
        clientContext(),
        handshakeTimeout=0.3,
    )
    try:
        [reason] = runUntil(reactor, factory.failed, timeout=5)
        assert reason.check(error.TimeoutError)
        assert "TLS handshake did not complete within 0.3 seconds" in reason.getErrorMessage()
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_server_handshake_timeout(reactor: Any) -> None:
    """A client that never sends its ClientHello is disconnected after the timeout."""
    port = listenEcho(reactor, handshakeTimeout=0.3)
    number = port.getHost().port

    def idle() -> bytes:
        with socket.create_connection(("127.0.0.1", number), timeout=10) as raw:
            return raw.recv(100)

    assert runUntil(reactor, inThread(reactor, idle), timeout=5) == b""
    runUntil(reactor, port.stopListening())


def test_flush_4mib_before_close_notify(reactor: Any) -> None:
    """4 MiB written just before loseConnection all arrive before close_notify."""
    payload = bytes(range(256)) * (4 * 1024 * 1024 // 256)
    lost: Deferred[Any] = Deferred()

    class Blast(protocol.Protocol):
        def connectionMade(self) -> None:
            for i in range(0, len(payload), 65536):
                self.transport.write(payload[i : i + 65536])
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Blast), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port

    def client() -> bytes:
        with socket.create_connection(("127.0.0.1", number), timeout=10) as raw:
            ctx = clientContext()
            with ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as s:
                data = recvAll(s)  # ends on close_notify; a ragged EOF would raise
                s.unwrap()
                return data

    assert runUntil(reactor, inThread(reactor, client), timeout=30) == payload
    assert runUntil(reactor, lost)[0].check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_shutdown_timeout(reactor: Any) -> None:
    """A peer that never answers close_notify is dropped after the shutdown timeout."""
    lost: Deferred[Any] = Deferred()
    release: list[Any] = []

    class CloseAtOnce(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0,
        protocol.Factory.forProtocol(CloseAtOnce),
        serverContext(),
        interface="127.0.0.1",
        shutdownTimeout=0.3,
    )
    number = port.getHost().port

    def client() -> None:
        raw = socket.create_connection(("127.0.0.1", number), timeout=10)
        s = clientContext().wrap_socket(raw, server_hostname="localhost")
        release.append(s)  # keep it open, never read, never answer

    runUntil(reactor, inThread(reactor, client))
    try:
        [reason] = runUntil(reactor, lost, timeout=5)
        assert reason.check(error.ConnectionLost, error.ConnectionDone)
    finally:
        for s in release:
            s.close()
    runUntil(reactor, port.stopListening())


def test_truncation_is_connection_lost(reactor: Any) -> None:
    """A peer closing TCP without close_notify gives ConnectionLost, data kept."""
    got: list[bytes] = []
    lost: Deferred[Any] = Deferred()

    class Record(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            got.append(data)

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Record), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port

    def client() -> None:
        raw = socket.create_connection(("127.0.0.1", number), timeout=10)
        s = clientContext().wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"partial")
        s.shutdown(socket.SHUT_WR)  # a FIN without close_notify
        while s.recv(65536):  # now plain recv: drain, so closing sends no RST
            pass
        s.close()

    runUntil(reactor, inThread(reactor, client))
    [reason] = runUntil(reactor, lost)
    assert b"".join(got) == b"partial"
    assert reason.check(error.ConnectionLost)
    assert "close_notify" in reason.getErrorMessage()
    runUntil(reactor, port.stopListening())


def test_peer_close_notify_is_connection_done(reactor: Any) -> None:
    """A peer that sends close_notify gives ConnectionDone."""
    lost: Deferred[Any] = Deferred()

    class Record(protocol.Protocol):
        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Record), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port

    def client() -> None:
        with (
            socket.create_connection(("127.0.0.1", number), timeout=10) as raw,
            clientContext().wrap_socket(raw, server_hostname="localhost") as s,
        ):
            s.sendall(b"bye")
            s.unwrap()

    runUntil(reactor, inThread(reactor, client))
    assert runUntil(reactor, lost)[0].check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_client_certificate_required(reactor: Any) -> None:
    """A server requiring client certificates accepts one signed by its CA."""
    from torsion.internet.ssl import PrivateCertificate

    serverOptions = PrivateCertificate.loadPEM(leaf().pem).options(
        Certificate.loadPEM(ca().certPEM)
    )
    seen: Deferred[Any] = Deferred()

    class Peer(protocol.Protocol):
        def connectionMade(self) -> None:
            seen.callback(self.transport.getPeerCertificate())
            self.transport.loseConnection()

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Peer), serverOptions, interface="127.0.0.1"
    )
    clientOptions = optionsForClientTLS(
        "localhost",
        trustRoot=Certificate.loadPEM(ca().certPEM),
        clientCertificate=PrivateCertificate.loadPEM(leaf("client.example", client=True).pem),
    )
    done: Deferred[Any] = Deferred()
    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: Collect(b"", done)),
        clientOptions,
    )
    cert = runUntil(reactor, seen)
    assert cert["subject"] == ((("commonName", "client.example"),),)
    runUntil(reactor, done)
    runUntil(reactor, port.stopListening())


def test_wrong_context_types_rejected(reactor: Any) -> None:
    """Non-SSLContext factories and contexts for the wrong side are refused at once."""

    class PyOpenSSLish:
        def getContext(self) -> object:
            return object()

    with pytest.raises(TypeError, match="pyOpenSSL contexts are not supported"):
        reactor.listenSSL(0, protocol.Factory(), PyOpenSSLish(), interface="127.0.0.1")
    with pytest.raises(ValueError, match="client-side SSLContext was given for the server"):
        reactor.listenSSL(0, protocol.Factory(), clientContext(), interface="127.0.0.1")
    with pytest.raises(TypeError, match="neither an ssl.SSLContext"):
        reactor.connectSSL("127.0.0.1", 1, protocol.ClientFactory(), object())


def test_tls_reads_use_the_shared_buffer(reactor: Any) -> None:
    """listenSSL/connectSSL run OpenSSL on the socket, decrypting into the reactor's buffer."""
    from torsion.internet._tlssocket import SocketTLSTransport

    transports: list[Any] = []

    class Seen(Collect):
        def connectionMade(self) -> None:
            transports.append(self.transport._t)
            super().connectionMade()

    port = listenEcho(reactor)
    done: Deferred[Any] = Deferred()
    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: Seen(b"q" * 50_000, done)),
        clientContext(),
    )
    received, _ = runUntil(reactor, done)
    assert received == b"q" * 50_000
    assert [type(t) for t in transports] == [SocketTLSTransport]
    assert len(reactor._tlsReadBuffer) == 256 * 1024
    runUntil(reactor, port.stopListening())


def test_closed_tls_connections_are_collectable(reactor: Any) -> None:
    """After close, the connection objects of both sides can be garbage-collected."""
    import gc
    import weakref

    refs: list[Any] = []

    class Track(Echo):
        def connectionMade(self) -> None:
            refs.append(weakref.ref(self.transport))

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Track), serverContext(), interface="127.0.0.1"
    )
    for _ in range(3):
        done: Deferred[Any] = Deferred()
        client = Collect(b"w" * 1000, done)
        reactor.connectSSL(
            "127.0.0.1",
            port.getHost().port,
            protocol.ClientFactory.forProtocol(lambda c=client: c),
            clientContext(),
        )
        runUntil(reactor, done)
        refs.append(weakref.ref(client.transport))
        del client
    runUntil(reactor, port.stopListening())
    for _ in range(5):
        reactor.loop.run_until_complete(asyncio.sleep(0))
    gc.collect()
    assert len(refs) == 6
    assert [r() for r in refs] == [None] * 6


def test_bytes_after_close_notify_are_ignored(reactor: Any) -> None:
    """Garbage sent after the peer's close_notify is dropped; the close is clean."""
    got: list[bytes] = []
    lost: Deferred[Any] = Deferred()

    class Record(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            got.append(data)

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Record), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port

    def client() -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = clientContext().wrap_bio(incoming, outgoing, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", number), timeout=10) as raw:

            def pump(step: Any) -> None:
                while True:
                    try:
                        step()
                        raw.sendall(outgoing.read())
                        return
                    except ssl.SSLWantReadError:
                        raw.sendall(outgoing.read())
                        incoming.write(raw.recv(65536))

            pump(tls.do_handshake)
            tls.write(b"hello")
            raw.sendall(outgoing.read())
            try:
                tls.unwrap()  # queues our close_notify
            except ssl.SSLWantReadError:
                pass
            raw.sendall(outgoing.read() + b"\x17\x03\x03\x00\x05garbage after close_notify")
            try:
                while raw.recv(65536):
                    pass
            except ConnectionResetError:
                pass  # the server may close with the garbage unread

    runUntil(reactor, inThread(reactor, client))
    [reason] = runUntil(reactor, lost)
    assert b"".join(got) == b"hello"
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())
