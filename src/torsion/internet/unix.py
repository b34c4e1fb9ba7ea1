"""UNIX domain sockets: stream ports, connectors and datagram ports.

Twisted: ``twisted.internet.unix``.  Stream connections are
:class:`torsion.internet._stream.Connection` objects over the loop's own
transports (``create_unix_server``/``create_unix_connection``), built on the
TCP classes; datagram ports are :class:`torsion.internet.udp.Port` on an
``AF_UNIX`` socket.

A path starting with a NUL byte (``"\\0name"``) names a socket in Linux's
abstract namespace: nothing is created in the file system, so there is no
mode to set and nothing to remove.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import stat
from typing import Any

from torsion.internet import error, tcp, udp
from torsion.internet._stream import prefixOf
from torsion.internet.address import UNIXAddress
from torsion.python import lockfile, log

__all__ = [
    "Client",
    "ConnectedDatagramPort",
    "Connector",
    "DatagramPort",
    "Port",
    "ReactorUNIXMixin",
    "Server",
]


def _inFilesystemNamespace(path: str | bytes) -> bool:
    """False for a Linux abstract-namespace name (leading NUL)."""
    return path[:1] not in (b"\0", "\0")


def _lockPath(path: str | bytes) -> str:
    name = os.fsdecode(path)
    return name + ".lock"


def _unlinkSocket(path: str | bytes) -> None:
    """Remove the socket file at ``path`` (only if it is a socket)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


class _UNIXAddresses:
    """Addresses and TCP-only options of a UNIX stream connection."""

    _t: Any

    def getHost(self) -> Any:
        """The local address. Twisted: ``unix.Server.getHost``."""
        return UNIXAddress(self._t.get_extra_info("sockname") or None)

    def getTcpNoDelay(self) -> bool:
        """Always False: there is no Nagle's algorithm on UNIX sockets."""
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Ignored on UNIX sockets (as in Twisted)."""


class Server(_UNIXAddresses, tcp.Server):
    """An accepted UNIX stream connection. Twisted: ``unix.Server``."""

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """The peer's address (usually unbound: ``UNIXAddress(None)``)."""
        return UNIXAddress(self._t.get_extra_info("peername") or None)


class Port(tcp.Port):
    """A listening UNIX stream socket. Twisted: ``twisted.internet.unix.Port``.

    Args:
        fileName: the socket path (or ``"\\0name"`` for the abstract namespace).
        factory: builds one protocol per connection.
        backlog: the listen queue size.
        mode: permissions of the socket file.
        reactor: the reactor.
        wantPID: hold ``fileName + ".lock"`` (a PID lock) while listening;
            a socket file left by a process that died is then removed.
    """

    _kind = "UNIX"
    lockFile: lockfile.FilesystemLock | None = None

    def __init__(
        self,
        fileName: str | bytes,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        reactor: Any = None,
        wantPID: int = 0,
    ) -> None:
        super().__init__(0, factory, backlog, "", reactor)
        self.port: Any = fileName
        self._bindPath = fileName
        self.mode = mode
        self.wantPID = wantPID
        self.addressFamily = socket.AF_UNIX

    def _bindSocket(self) -> socket.socket:
        path = self._bindPath
        if self.wantPID:
            self.lockFile = lockfile.FilesystemLock(_lockPath(path))
            if not self.lockFile.lock():
                self.lockFile = None
                raise error.CannotListenError("", path, OSError("Cannot acquire lock"))
            if not self.lockFile.clean and _inFilesystemNamespace(path):
                # The previous owner died without cleaning up: its socket is stale.
                _unlinkSocket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            if _inFilesystemNamespace(path):
                os.chmod(path, self.mode)
            sock.listen(self.backlog)
        except OSError as e:
            sock.close()
            self._unlock()
            raise error.CannotListenError("", path, e) from None
        return sock

    def _listeningName(self, sock: socket.socket) -> Any:
        return repr(self._bindPath)

    def _serve(self, loop: Any, sock: socket.socket) -> Any:
        return loop.create_unix_server(self._buildServer, sock=sock, backlog=self.backlog)

    def _buildServer(self) -> Server:
        return Server(self)

    def _unlock(self) -> None:
        if self.lockFile is not None:
            self.lockFile.unlock()
            self.lockFile = None

    def _finishClose(self) -> None:
        if _inFilesystemNamespace(self._bindPath):
            _unlinkSocket(self._bindPath)
        self._unlock()
        super()._finishClose()

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """The bound path. Twisted: ``unix.Port.getHost``."""
        assert self.socket is not None
        return UNIXAddress(self.socket.getsockname())


class Client(_UNIXAddresses, tcp.Client):
    """An outgoing UNIX stream connection. Twisted: ``unix.Client``."""

    connector: Connector

    def __init__(self, connector: Connector) -> None:
        super().__init__(connector)
        self.addr: Any = connector.address
        self.realAddress = connector.address

    async def _connectSocket(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        connector = self.connector
        path = connector.address
        if connector.checkPID and not lockfile.isLocked(_lockPath(path)):
            raise error.BadFileError(string=f"no process holds the lock of {path!r}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, path)
        except OSError as e:
            sock.close()
            raise tcp._connectError(e) from None
        except BaseException:
            sock.close()
            raise
        return sock

    async def _makeTransport(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        transport, _ = await loop.create_unix_connection(lambda: self, sock=sock)
        tcp.forgetClosedSocket(loop, transport, sock)

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """The path connected to. Twisted: ``unix.Client.getPeer``."""
        return UNIXAddress(self.connector.address)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """Always unbound. Twisted: ``unix.Client.getHost``."""
        return UNIXAddress(None)

    def getDestination(self) -> UNIXAddress:  # type: ignore[override]
        return UNIXAddress(self.connector.address)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.addr!r} at {id(self):x}>"


class Connector(tcp.Connector):
    """Connects a client factory to a UNIX socket. Twisted: ``unix.Connector``.

    Args:
        address: the socket path.
        factory: the client factory.
        timeout: seconds before an attempt fails.
        reactor: the reactor.
        checkPID: fail with ``BadFileError`` unless a live process holds
            ``address + ".lock"``.
    """

    def __init__(
        self, address: str | bytes, factory: Any, timeout: float | None, reactor: Any, checkPID: int
    ) -> None:
        super().__init__(os.fsdecode(address), 0, factory, timeout, None, reactor)
        self.address = address
        self.checkPID = checkPID

    def _makeTransport(self) -> Client:
        return Client(self)

    def getDestination(self) -> UNIXAddress:  # type: ignore[override]
        """The socket path. Twisted: ``unix.Connector.getDestination``."""
        return UNIXAddress(self.address)


class DatagramPort(udp.Port):
    """A UNIX datagram socket. Twisted: ``unix.DatagramPort``.

    Args:
        addr: the path to bind (None or '' for an unbound socket).
        proto: a ``DatagramProtocol``.
        maxPacketSize: the largest datagram read.
        mode: permissions of the socket file.
        reactor: the reactor.
    """

    addressFamily = socket.AF_UNIX
    _kind = "UNIX datagram"

    def __init__(
        self,
        addr: str | bytes | None,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        reactor: Any = None,
    ) -> None:
        super().__init__(addr, proto, "", maxPacketSize, reactor)
        self.addressFamily = socket.AF_UNIX
        self.mode = mode

    def _bindSocket(self) -> None:
        sock = self._createSocket()
        path = self.port
        try:
            if path:
                sock.bind(path)
                if _inFilesystemNamespace(path):
                    os.chmod(path, self.mode)
        except OSError as e:
            sock.close()
            raise error.CannotListenError("", path, e) from None
        sock.setblocking(False)
        self.socket = sock
        self._realPortNumber = repr(path)
        log.msg(f"{prefixOf(self.protocol)} starting on {self._realPortNumber}")
        self.connected = 1

    def _addressOf(self, addr: Any) -> Any:
        return addr or None

    def write(self, datagram: bytes, addr: Any = None) -> Any:
        """Send ``datagram`` to the socket at path ``addr``."""
        if self._connectedAddr is None and addr is None:
            raise ValueError("write() needs an address on an unconnected port")
        try:
            if self._connectedAddr is not None:
                return self.socket.send(datagram)
            return self.socket.sendto(datagram, addr)
        except OSError as e:
            if e.errno == errno.EMSGSIZE:
                raise error.MessageLengthError("message too long") from None
            if e.errno in (errno.EAGAIN, errno.ENOBUFS):  # dropped, as in Twisted
                return None
            raise

    def connectionLost(self, reason: Any = None) -> None:
        bound = self.connected and self.port and _inFilesystemNamespace(self.port)
        super().connectionLost(reason)
        if bound:
            _unlinkSocket(self.port)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """The bound path. Twisted: ``unix.DatagramPort.getHost``."""
        return UNIXAddress(self.socket.getsockname() or None)


class ConnectedDatagramPort(DatagramPort):
    """A UNIX datagram socket connected to one peer path.

    Twisted: ``unix.ConnectedDatagramPort``; for a ``ConnectedDatagramProtocol``
    (``datagramReceived(data)``; ``connectionFailed(failure)`` if the
    connection cannot be made).
    """

    def __init__(
        self,
        addr: str | bytes,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | bytes | None = None,
        reactor: Any = None,
    ) -> None:
        super().__init__(bindAddress, proto, maxPacketSize, mode, reactor)
        self.remoteaddr = addr

    def startListening(self) -> None:
        from torsion.python.failure import Failure

        try:
            self._bindSocket()
            self.socket.connect(self.remoteaddr)
            self._connectedAddr = self.remoteaddr
        except Exception as e:
            failure = Failure._withoutTraceback(e)
            if self.socket is not None:
                self.socket.close()
                self.connected = 0
            self.protocol.connectionFailed(failure)
            return
        self._connectToProtocol()

    def _deliver(self, data: bytes, addr: Any) -> None:
        try:
            self.protocol.datagramReceived(data)
        except Exception:
            log.err(None, f"Unhandled error in {prefixOf(self.protocol)}.datagramReceived")

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """The connected path."""
        return UNIXAddress(self.remoteaddr)


class ReactorUNIXMixin:
    """``IReactorUNIX`` and ``IReactorUNIXDatagram`` for the asyncio reactor."""

    def listenUNIX(
        self,
        address: str | bytes,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> Port:
        """Listen on a UNIX socket. Twisted: ``IReactorUNIX.listenUNIX``.

        Raises:
            CannotListenError: at once, if binding fails (e.g. the path is
                in use) or the PID lock is held by a live process.
        """
        p = Port(address, factory, backlog, mode, self, wantPID)
        p.startListening()
        return p

    def connectUNIX(
        self, address: str | bytes, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> Connector:
        """Connect to a UNIX socket. Twisted: ``IReactorUNIX.connectUNIX``."""
        c = Connector(address, factory, timeout, self, checkPID)
        c.connect()
        return c

    def listenUNIXDatagram(
        self, address: str | bytes, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> DatagramPort:
        """Bind a UNIX datagram socket. Twisted: ``IReactorUNIXDatagram.listenUNIXDatagram``."""
        p = DatagramPort(address, protocol, maxPacketSize, mode, self)
        p.startListening()
        return p

    def connectUNIXDatagram(
        self,
        address: str | bytes,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | bytes | None = None,
    ) -> ConnectedDatagramPort:
        """Connect a UNIX datagram socket to ``address``.

        Twisted: ``IReactorUNIXDatagram.connectUNIXDatagram``.
        """
        p = ConnectedDatagramPort(address, protocol, maxPacketSize, mode, bindAddress, self)
        p.startListening()
        return p
