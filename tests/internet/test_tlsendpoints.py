"""TLS endpoints and the ssl:/tls: string builders, on a real loop."""

from __future__ import annotations

import shutil
import ssl
from typing import Any

import pytest

from tests.internet.tlshelpers import ca, leaf, serverContext
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet._tlsendpoints import (
    SSL4ClientEndpoint,
    SSL4ServerEndpoint,
    parseClientSSL,
    parseClientTLS,
    parseServerSSL,
    wrapClientTLS,
)
from torsion.internet.defer import Deferred
from torsion.internet.endpoints import TCP4ClientEndpoint
from torsion.internet.ssl import Certificate, optionsForClientTLS


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Ping(protocol.Protocol):
    def __init__(self) -> None:
        self.done: Deferred[Any] = Deferred()
        self.got = b""

    def connectionMade(self) -> None:
        self.transport.write(b"ping")

    def dataReceived(self, data: bytes) -> None:
        self.got += data
        if self.got == b"ping":
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback([reason])


@pytest.fixture
def caDir(tmp_path: Any) -> str:
    directory = tmp_path / "cas"
    directory.mkdir()
    shutil.copy(ca().certFile, directory / "ca.pem")
    (directory / "README").write_text("not a certificate")
    return str(directory)


def listen(reactor: Any) -> Any:
    identity = leaf()
    endpoint = parseServerSSL(
        reactor, "0", privateKey=identity.keyFile, certKey=identity.certFile, interface="127.0.0.1"
    )
    assert isinstance(endpoint, SSL4ServerEndpoint)
    return runUntil(reactor, endpoint.listen(protocol.Factory.forProtocol(Echo)))


def roundTrip(reactor: Any, endpoint: Any) -> Any:
    proto = Ping()
    connected = runUntil(reactor, endpoint.connect(protocol.Factory.forProtocol(lambda: proto)))
    assert connected is proto
    [reason] = runUntil(reactor, proto.done)
    assert proto.got == b"ping"
    return reason


def test_ssl_server_and_client_strings(reactor: Any, caDir: str) -> None:
    """ssl: server from key/cert files; ssl: client verifying against caCertsDir."""
    port = listen(reactor)
    endpoint = parseClientSSL(reactor, "localhost", str(port.getHost().port), caCertsDir=caDir)
    assert isinstance(endpoint, SSL4ClientEndpoint)
    assert roundTrip(reactor, endpoint).check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_tls_client_string(reactor: Any, caDir: str) -> None:
    """tls:HOST:PORT with trustRoots connects and verifies the host name."""
    port = listen(reactor)
    endpoint = parseClientTLS(reactor, "localhost", str(port.getHost().port), trustRoots=caDir)
    assert roundTrip(reactor, endpoint).check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_client_strings_verify_by_default(reactor: Any, caDir: str) -> None:
    """Without CAs the platform's are used (and refuse); a wrong hostname is refused."""
    port = listen(reactor)
    number = str(port.getHost().port)
    for endpoint in (
        parseClientSSL(reactor, host="localhost", port=number),
        parseClientTLS(reactor, host="localhost", port=number),
        parseClientSSL(reactor, "localhost", number, caCertsDir=caDir, hostname="wrong.example"),
    ):
        with pytest.raises(ssl.SSLCertVerificationError):
            runUntil(reactor, endpoint.connect(protocol.Factory.forProtocol(Ping)))
    runUntil(reactor, port.stopListening())


def test_builder_argument_errors(reactor: Any, tmp_path: Any) -> None:
    """Bad or missing arguments raise ValueError naming the problem."""
    with pytest.raises(ValueError, match="cannot read private key"):
        parseServerSSL(reactor, "443", privateKey=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="port must be a number from 0 to 65535, not 'http'"):
        parseServerSSL(reactor, "http", privateKey=leaf().keyFile, certKey=leaf().certFile)
    with pytest.raises(ValueError, match="'ssl' needs the argument 'port'"):
        parseClientSSL(reactor, "example.com")
    with pytest.raises(ValueError, match="'tls' needs the argument 'port'"):
        parseClientTLS(reactor, "example.com")
    with pytest.raises(ValueError, match="unknown argument 'trustRoots' for 'ssl'"):
        parseClientSSL(reactor, "example.com", "443", trustRoots="/")
    with pytest.raises(ValueError, match="unknown argument 'caCertsDir' for 'tls'"):
        parseClientTLS(reactor, "example.com", "443", caCertsDir="/")
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        parseClientTLS(reactor, "example.com", "443", "soon")
    with pytest.raises(ValueError, match="backlog must be a whole number"):
        parseServerSSL(reactor, "443", privateKey=leaf().keyFile, backlog="-1")
    with pytest.raises(ValueError, match="no certificates"):
        parseClientTLS(reactor, "example.com", "443", trustRoots=str(tmp_path))
    with pytest.raises(ValueError, match="invalid key or certificate"):
        parseServerSSL(reactor, "443", privateKey=leaf().keyFile, certKey=ca().certFile)
    endpoint = parseClientTLS(reactor, "example.com", "443", "5", "127.0.0.1")
    assert endpoint._timeout == 5.0
    assert endpoint._bindAddress == ("127.0.0.1", 0)


def test_server_string_with_one_pem_file(reactor: Any, tmp_path: Any, caDir: str) -> None:
    """privateKey alone may name one file holding both key and certificate."""
    both = tmp_path / "server.pem"
    both.write_bytes(leaf().pem)
    endpoint = parseServerSSL(reactor, "0", privateKey=str(both), interface="127.0.0.1")
    port = runUntil(reactor, endpoint.listen(protocol.Factory.forProtocol(Echo)))
    client = parseClientSSL(reactor, "localhost", str(port.getHost().port), caCertsDir=caDir)
    roundTrip(reactor, client)
    runUntil(reactor, port.stopListening())


@pytest.mark.tls  # wrapClientTLS runs startTLS: the loop's TLS layer
def test_wrap_client_tls(reactor: Any) -> None:
    """wrapClientTLS runs TLS over another endpoint's connection."""
    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(Echo), serverContext(), interface="127.0.0.1"
    )
    options = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(ca().certPEM))
    endpoint = wrapClientTLS(options, TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port))
    assert roundTrip(reactor, endpoint).check(error.ConnectionDone)
    bad = wrapClientTLS(
        optionsForClientTLS("wrong.example", trustRoot=Certificate.loadPEM(ca().certPEM)),
        TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port),
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        runUntil(reactor, bad.connect(protocol.Factory.forProtocol(Ping)))
    runUntil(reactor, port.stopListening())


def test_cancel_connect(reactor: Any) -> None:
    """Cancelling connect() fails it with ConnectingCancelledError."""
    endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", 9, serverContextFree())
    d = endpoint.connect(protocol.Factory.forProtocol(Ping))
    d.cancel()
    with pytest.raises(error.ConnectingCancelledError):
        runUntil(reactor, d)


def serverContextFree() -> Any:
    return optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(ca().certPEM))


def test_no_protocol(reactor: Any, caDir: str) -> None:
    """A factory whose buildProtocol returns None fails connect() with NoProtocol."""
    port = listen(reactor)

    class Refuse(protocol.Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    endpoint = parseClientSSL(reactor, "localhost", str(port.getHost().port), caCertsDir=caDir)
    with pytest.raises(error.NoProtocol):
        runUntil(reactor, endpoint.connect(Refuse()))
    runUntil(reactor, port.stopListening())


def test_public_names_in_endpoints() -> None:
    """As in Twisted, the TLS endpoints are importable from the endpoints module."""
    from torsion.internet import endpoints

    assert endpoints.SSL4ServerEndpoint is SSL4ServerEndpoint
    assert endpoints.SSL4ClientEndpoint is SSL4ClientEndpoint
    assert endpoints.wrapClientTLS is wrapClientTLS
