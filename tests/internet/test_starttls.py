"""STARTTLS (``transport.startTLS``) on live TCP connections, and TLS against
the ``openssl`` command-line peers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
from typing import Any

import pytest

from tests.internet.tlshelpers import ca, clientContext, inThread, leaf, recvAll, serverContext
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred

pytestmark = pytest.mark.tls

needsOpenSSL = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")


class StartTLSServer(protocol.Protocol):
    """Plaintext lines until STARTTLS; then TLS, echoing upper-cased."""

    def __init__(self, context: Any, lost: Deferred[Any]) -> None:
        self.context = context
        self.lost = lost
        self.buffer = b""
        self.plainLines: list[bytes] = []
        self.secure = b""

    def dataReceived(self, data: bytes) -> None:
        if self.transport.TLS:
            self.secure += data
            self.transport.write(data.upper())
            return
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.plainLines.append(line)
            if line == b"STARTTLS":
                self.transport.write(b"plain-reply\n")
                self.transport.write(b"GO\n")
                self.transport.startTLS(self.context)
                # Written during the handshake: must arrive encrypted, in order.
                self.transport.write(b"first-secret;")
                return

    def connectionLost(self, reason: Any) -> None:
        self.lost.callback([reason])


class StartTLSClient(protocol.Protocol):
    def __init__(self, context: Any, done: Deferred[Any]) -> None:
        self.context = context
        self.done = done
        self.plain = b""
        self.secure = b""

    def connectionMade(self) -> None:
        self.transport.write(b"hello\n")
        self.transport.write(b"STARTTLS\n")

    def dataReceived(self, data: bytes) -> None:
        if self.transport.TLS:
            self.secure += data
            if self.secure.endswith(b"SECRET-FROM-CLIENT"):
                self.transport.loseConnection()
            return
        self.plain += data
        if self.plain.endswith(b"GO\n"):
            self.transport.startTLS(self.context)
            self.transport.write(b"secret-from-client")

    def connectionLost(self, reason: Any) -> None:
        self.done.callback([reason])


def test_starttls_between_torsion_peers(reactor: Any) -> None:
    """Plaintext before STARTTLS arrives in order; data after it is encrypted both ways."""
    serverLost: Deferred[Any] = Deferred()
    servers: list[StartTLSServer] = []

    def build() -> StartTLSServer:
        servers.append(StartTLSServer(serverContext(), serverLost))
        return servers[-1]

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(build), interface="127.0.0.1")
    done: Deferred[Any] = Deferred()
    client = StartTLSClient(clientContext(), done)
    connector = reactor.connectTCP(
        "localhost", port.getHost().port, protocol.ClientFactory.forProtocol(lambda: client)
    )
    [reason] = runUntil(reactor, done)
    [serverReason] = runUntil(reactor, serverLost)
    server = servers[0]
    assert server.plainLines == [b"hello", b"STARTTLS"]
    assert client.plain == b"plain-reply\nGO\n"
    assert client.secure == b"first-secret;SECRET-FROM-CLIENT"
    assert server.secure == b"secret-from-client"
    assert reason.check(error.ConnectionDone)
    assert serverReason.check(error.ConnectionDone)
    assert connector.transport is None or connector.state == "disconnected"
    runUntil(reactor, port.stopListening())


def test_starttls_against_python_ssl_peer(reactor: Any) -> None:
    """A torsion server upgrades a connection from a Python ssl client."""
    serverLost: Deferred[Any] = Deferred()
    port = reactor.listenTCP(
        0,
        protocol.Factory.forProtocol(lambda: StartTLSServer(serverContext(), serverLost)),
        interface="127.0.0.1",
    )
    number = port.getHost().port

    def client() -> tuple[bytes, bytes]:
        raw = socket.create_connection(("127.0.0.1", number), timeout=10)
        raw.sendall(b"STARTTLS\n")
        plain = b""
        while not plain.endswith(b"GO\n"):
            plain += raw.recv(1)  # byte by byte: leave the TLS records alone
        with clientContext().wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"abc")
            secure = b""
            while not secure.endswith(b"ABC"):
                secure += s.recv(65536)
            s.unwrap()
        return plain, secure

    plain, secure = runUntil(reactor, inThread(reactor, client))
    assert plain == b"plain-reply\nGO\n"
    assert secure == b"first-secret;ABC"
    [reason] = runUntil(reactor, serverLost)
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_starttls_handshake_failure_reaches_connection_lost(reactor: Any) -> None:
    """A certificate error after STARTTLS closes the connection with the TLS error."""
    serverLost: Deferred[Any] = Deferred()
    port = reactor.listenTCP(
        0,
        protocol.Factory.forProtocol(
            lambda: StartTLSServer(serverContext(leaf(expired=True)), serverLost)
        ),
        interface="127.0.0.1",
    )
    done: Deferred[Any] = Deferred()
    client = StartTLSClient(clientContext(), done)
    reactor.connectTCP(
        "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(lambda: client)
    )
    [reason] = runUntil(reactor, done)
    assert reason.check(ssl.SSLCertVerificationError)
    assert "certificate has expired" in reason.getErrorMessage()
    runUntil(reactor, serverLost)
    assert client.secure == b""
    runUntil(reactor, port.stopListening())


def test_starttls_twice_raises(reactor: Any) -> None:
    """Calling startTLS on a connection that already runs TLS raises RuntimeError."""
    result: Deferred[Any] = Deferred()

    class Twice(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.startTLS(clientContext())
            try:
                self.transport.startTLS(clientContext())
            except RuntimeError as e:
                result.callback(str(e))
            self.transport.abortConnection()

    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    reactor.connectTCP("127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Twice))
    assert runUntil(reactor, result) == "TLS is already active on this connection"
    runUntil(reactor, port.stopListening())
    for _ in range(3):
        runUntil(reactor, _soon(reactor))


def _soon(reactor: Any) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.callLater(0.01, d.callback, None)
    return d


# -- the openssl command-line tool as the peer -------------------------------------


@needsOpenSSL
def test_client_against_openssl_s_server(reactor: Any) -> None:
    """connectSSL talks to ``openssl s_server -rev`` (which reverses each line)."""
    server = leaf()
    proc = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-cert",
            server.certFile,
            "-key",
            server.keyFile,
            "-rev",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        number = 0
        for _ in range(20):
            line = proc.stdout.readline().decode()
            found = re.search(r"ACCEPT .*:(\d+)", line)
            if found:
                number = int(found.group(1))
                break
        assert number, "openssl s_server did not report its port"
        done: Deferred[Any] = Deferred()

        class Rev(protocol.Protocol):
            received = b""

            def connectionMade(self) -> None:
                self.transport.write(b"hello torsion\n")

            def dataReceived(self, data: bytes) -> None:
                self.received += data
                if b"\n" in self.received:
                    self.transport.loseConnection()

            def connectionLost(self, reason: Any) -> None:
                done.callback((self.received, reason))

        reactor.connectSSL(
            "127.0.0.1", number, protocol.ClientFactory.forProtocol(Rev), clientContext()
        )
        received, reason = runUntil(reactor, done)
        assert received.strip() == b"noisrot olleh"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@needsOpenSSL
def test_server_against_openssl_s_client(reactor: Any) -> None:
    """``openssl s_client`` verifies listenSSL's certificate and gets its echo."""
    lost: Deferred[Any] = Deferred()

    class EchoLine(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(b"echo:" + data)
            if data.endswith(b"\n"):
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(EchoLine), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port

    def client() -> tuple[int, bytes]:
        done = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{number}",
                "-CAfile",
                ca().certFile,
                "-verify_return_error",
                "-verify_hostname",
                "localhost",
                "-quiet",
            ],
            input=b"from openssl\n",
            capture_output=True,
            timeout=20,
            env={**os.environ, "LC_ALL": "C"},
        )
        return done.returncode, done.stdout

    code, out = runUntil(reactor, inThread(reactor, client), timeout=25)
    assert out == b"echo:from openssl\n"
    [reason] = runUntil(reactor, lost)
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_server_sees_python_ssl_recvall(reactor: Any) -> None:
    """recvAll helper sanity: a closed plain socket ends the read."""
    a, b = socket.socketpair()
    a.sendall(b"x")
    a.close()
    assert recvAll(b) == b"x"
    b.close()


def test_starttls_over_unix_socket(reactor: Any, tmp_path: Any) -> None:
    """STARTTLS works on UNIX connections, the host name coming from the options."""
    from torsion.internet.ssl import Certificate, optionsForClientTLS

    serverLost: Deferred[Any] = Deferred()
    path = str(tmp_path / "starttls.sock")
    port = reactor.listenUNIX(
        path, protocol.Factory.forProtocol(lambda: StartTLSServer(serverContext(), serverLost))
    )
    done: Deferred[Any] = Deferred()
    options = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(ca().certPEM))
    client = StartTLSClient(options, done)
    reactor.connectUNIX(path, protocol.ClientFactory.forProtocol(lambda: client))
    [reason] = runUntil(reactor, done)
    runUntil(reactor, serverLost)
    assert client.secure == b"first-secret;SECRET-FROM-CLIENT"
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())
