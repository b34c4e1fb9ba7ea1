"""TLS endpoints and the builders behind the ``ssl:`` and ``tls:`` strings.

Twisted: ``SSL4ServerEndpoint``, ``SSL4ClientEndpoint`` and
``wrapClientTLS`` of ``twisted.internet.endpoints``, and its ``ssl:``
(server and client) and ``tls:`` (client) description strings.

The builders take the arguments a description string parser produced (all
strings) and return an endpoint; they do no I/O apart from reading the
certificate files named.  ``torsion.internet.endpoints`` registers them
for its prefixes.

Client strings verify the server's certificate chain and host name by
default (Twisted's ``ssl:`` client verifies nothing unless ``caCertsDir``
is given).
"""

from __future__ import annotations

import os
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred, execute
from torsion.internet._endpointstrings import (
    bindArguments,
    clientAddress,
    nonNegativeInt,
    portNumber,
    tcpClientArguments,
    text,
)
from torsion.internet._starttls import startTLS
from torsion.internet._streamendpoints import connectWith
from torsion.internet.ssl import (
    Certificate,
    CertificateOptions,
    PrivateCertificate,
    _pemBlocks,
    optionsForClientTLS,
    trustRootFromCertificates,
)
from torsion.python.failure import Failure

__all__ = [
    "SSL4ClientEndpoint",
    "SSL4ServerEndpoint",
    "parseClientSSL",
    "parseClientTLS",
    "parseServerSSL",
    "wrapClientTLS",
]


class SSL4ServerEndpoint:
    """Listens for TLS connections. Twisted: ``endpoints.SSL4ServerEndpoint``.

    Args:
        reactor: the reactor.
        port: the port number.
        sslContextFactory: an ``ssl.SSLContext`` or options object.
        backlog: the listen queue size.
        interface: the local address.
    """

    def __init__(
        self,
        reactor: Any,
        port: int,
        sslContextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._sslContextFactory = sslContextFactory
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Start listening; the Deferred fires with the port."""
        return execute(
            self._reactor.listenSSL,
            self._port,
            protocolFactory,
            self._sslContextFactory,
            backlog=self._backlog,
            interface=self._interface,
        )


class SSL4ClientEndpoint:
    """Connects over TLS. Twisted: ``endpoints.SSL4ClientEndpoint``.

    Args:
        reactor: the reactor.
        host: the server's name or address.
        port: the port number.
        sslContextFactory: an ``ssl.SSLContext`` or options object.
        timeout: seconds for the connection and the handshake.
        bindAddress: a local ``(host, port)`` to bind.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        sslContextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._sslContextFactory = sslContextFactory
        self._timeout = timeout
        self._bindAddress = bindAddress

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect; the Deferred fires with the protocol after the handshake."""
        return connectWith(
            lambda wf: self._reactor.connectSSL(
                self._host,
                self._port,
                wf,
                self._sslContextFactory,
                timeout=self._timeout,
                bindAddress=self._bindAddress,
            ),
            protocolFactory,
        )


class _TLSStarter:
    """Protocol on the wrapped endpoint's connection: starts TLS, then hands
    the connection to the user's protocol."""

    transport: Any = None

    def __init__(self, owner: _WrappedFactory, addr: Any) -> None:
        self._owner = owner
        self._addr = addr

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        startTLS(transport, self._owner.creator, True, onHandshake=self._handshaken)

    def _handshaken(self) -> None:
        owner = self._owner
        protocol = owner.factory.buildProtocol(self._addr)
        conn = self.transport
        if protocol is None:
            owner.fail(Failure._withoutTraceback(error.NoProtocol()))
            conn.loseConnection()
            return
        conn.protocol = protocol
        conn._dataReceived = protocol.dataReceived
        protocol.makeConnection(conn)
        owner.succeed(protocol)

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        self._owner.fail(reason)


class _WrappedFactory:
    def __init__(self, creator: Any, factory: Any) -> None:
        self.creator = creator
        self.factory = factory
        self.deferred: Deferred[Any] = Deferred()

    def doStart(self) -> None:
        self.factory.doStart()

    def doStop(self) -> None:
        self.factory.doStop()

    def buildProtocol(self, addr: Any) -> _TLSStarter:
        return _TLSStarter(self, addr)

    def succeed(self, protocol: Any) -> None:
        if not self.deferred.called:
            self.deferred.callback(protocol)

    def fail(self, reason: Failure) -> None:
        if not self.deferred.called:
            self.deferred.errback(reason)


class _WrapperEndpoint:
    """The endpoint :func:`wrapClientTLS` returns."""

    def __init__(self, creator: Any, wrapped: Any) -> None:
        self._creator = creator
        self._wrapped = wrapped

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect the wrapped endpoint, then run TLS over it."""
        factory = _WrappedFactory(self._creator, protocolFactory)

        def connected(starter: Any) -> Deferred[Any]:
            return factory.deferred

        return self._wrapped.connect(factory).addCallback(connected)  # type: ignore[no-any-return]


def wrapClientTLS(connectionCreator: Any, wrappedEndpoint: Any) -> _WrapperEndpoint:
    """An endpoint running TLS over ``wrappedEndpoint``'s connections.

    Twisted: ``endpoints.wrapClientTLS``.  The wrapped endpoint must produce
    torsion stream connections (TCP or UNIX); the Deferred of ``connect``
    fires with the protocol once the handshake has completed.

    Args:
        connectionCreator: e.g. :func:`torsion.internet.ssl.optionsForClientTLS`'s result.
        wrappedEndpoint: the endpoint for the underlying connection.
    """
    return _WrapperEndpoint(connectionCreator, wrappedEndpoint)


# -- builders for description strings ---------------------------------------------


def _readFile(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read {what} {path!r}: {e.strerror}") from None


def _certificatesIn(directory: str) -> list[Certificate]:
    """Every certificate in the ``*.pem`` files of ``directory``."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise ValueError(f"cannot read CA directory {directory!r}: {e.strerror}") from None
    certs: list[Certificate] = []
    for name in names:
        if not name.lower().endswith(".pem"):
            continue
        blocks, _ = _pemBlocks(_readFile(os.path.join(directory, name), "CA file"))
        certs.extend(Certificate(block) for block in blocks)
    if not certs:
        raise ValueError(f"no certificates in the .pem files of {directory!r}")
    return certs


_SERVER_ARGUMENTS = (
    "port",
    "privateKey",
    "certKey",
    "sslmethod",
    "interface",
    "backlog",
    "extraCertChain",
    "dhParameters",
)


def parseServerSSL(reactor: Any, *args: str, **kwargs: str) -> SSL4ServerEndpoint:
    """Build the endpoint of ``ssl:PORT:privateKey=KEY:certKey=CERT[:...]``.

    Twisted: the ``ssl`` server string; its arguments, in order, may also be
    given by position: ``port``, ``privateKey`` (default ``server.pem``),
    ``certKey``, ``sslmethod``, ``interface``, ``backlog``,
    ``extraCertChain``, ``dhParameters``.  ``certKey`` defaults to
    ``privateKey`` (one PEM file holding both); ``extraCertChain`` names a
    PEM file of intermediate certificates.  ``sslmethod`` and
    ``dhParameters`` are accepted and ignored (TLS 1.2+ with ECDHE).

    Raises:
        ValueError: for a bad or unknown argument, or unreadable or invalid
            certificate files.
    """
    a = bindArguments("ssl", args, kwargs, _SERVER_ARGUMENTS, required=("port",))
    port = portNumber(a["port"])
    backlog = nonNegativeInt(a.get("backlog", "50"), "backlog")
    interface = text(a.get("interface", ""), "interface", allowEmpty=True)
    privateKey = text(a.get("privateKey", "server.pem"), "privateKey")
    keyPEM = _readFile(privateKey, "private key")
    certPEM = _readFile(a.get("certKey") or privateKey, "certificate")
    chain = None
    if "extraCertChain" in a:
        blocks, _ = _pemBlocks(_readFile(a["extraCertChain"], "certificate chain"))
        chain = [Certificate(block) for block in blocks]
    options = CertificateOptions(
        privateKey=PrivateCertificate(certPEM, keyPEM),
        certificate=PrivateCertificate(certPEM, keyPEM),
        extraCertChain=chain,
    )
    try:
        options._serverContext()
    except Exception as e:
        raise ValueError(f"invalid key or certificate: {e}") from None
    return SSL4ServerEndpoint(reactor, port, options, backlog, interface)


def _clientOptions(
    hostname: str,
    caCertsDir: str | None,
    certKey: str | None,
    privateKey: str | None,
) -> Any:
    trustRoot = None
    if caCertsDir is not None:
        trustRoot = trustRootFromCertificates(_certificatesIn(caCertsDir))
    clientCertificate = None
    if certKey is not None or privateKey is not None:
        certPEM = _readFile(certKey or privateKey or "", "client certificate")
        keyPEM = _readFile(privateKey or certKey or "", "client private key")
        clientCertificate = PrivateCertificate(certPEM, keyPEM)
    return optionsForClientTLS(hostname, trustRoot, clientCertificate)


def parseClientSSL(reactor: Any, *args: str, **kwargs: str) -> SSL4ClientEndpoint:
    """Build the endpoint of ``ssl:HOST:PORT`` / ``ssl:host=H:port=P[:...]``.

    Twisted: the ``ssl`` client string; host and port as for ``tcp:``, and
    the keywords ``timeout``, ``bindAddress``, ``certKey``, ``privateKey``,
    ``caCertsDir`` and ``hostname``.  The server's certificate is checked
    against ``caCertsDir`` (the ``*.pem`` files there) or the platform's
    CAs, and its name against ``hostname`` (default ``host``).
    ``certKey``/``privateKey`` name a client certificate to present.

    Raises:
        ValueError: for missing, unknown or bad arguments.
    """
    host, port, timeout, bindAddress = tcpClientArguments(
        "ssl", args, kwargs, ("certKey", "privateKey", "caCertsDir", "hostname")
    )
    options = _clientOptions(
        text(kwargs.get("hostname", host), "hostname"),
        kwargs.get("caCertsDir"),
        kwargs.get("certKey"),
        kwargs.get("privateKey"),
    )
    return SSL4ClientEndpoint(reactor, host, port, options, timeout, bindAddress)


def parseClientTLS(reactor: Any, *args: str, **kwargs: str) -> SSL4ClientEndpoint:
    """Build the endpoint of ``tls:HOST:PORT[:timeout=..][:trustRoots=DIR][:...]``.

    Twisted: the ``tls`` client string; its arguments, in order, may also be
    given by position: ``host``, ``port``, ``timeout``, ``bindAddress``,
    ``certificate``, ``privateKey``, ``trustRoots``.  (Twisted's plugin
    wraps a ``HostnameEndpoint``; here the TLS connection goes to the first
    IPv4 address of ``host``.)  ``trustRoots`` is a directory of ``*.pem``
    CA files (default: the platform's CAs); ``certificate``/``privateKey``
    name a client certificate.  The host name is always verified.

    Raises:
        ValueError: for missing, unknown or bad arguments.
    """
    a = bindArguments("tls", args, kwargs, _TLS_CLIENT_ARGUMENTS, required=("host", "port"))
    host, port, timeout, bindAddress = clientAddress(a)
    options = _clientOptions(host, a.get("trustRoots"), a.get("certificate"), a.get("privateKey"))
    return SSL4ClientEndpoint(reactor, host, port, options, timeout, bindAddress)


_TLS_CLIENT_ARGUMENTS = (
    "host",
    "port",
    "timeout",
    "bindAddress",
    "certificate",
    "privateKey",
    "trustRoots",
)
