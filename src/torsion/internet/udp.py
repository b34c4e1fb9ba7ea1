"""UDP: datagram ports and multicast.

Twisted: ``twisted.internet.udp``.  A port reads its socket when the loop
says it is readable (``loop.add_reader``), up to ``maxThroughput`` bytes per
wake-up, and ``write`` sends at once with ``sendto`` as Twisted does, so
the error behaviour is Twisted's: ``MessageLengthError`` raised by
``write`` for an oversized datagram, a datagram dropped when the socket
buffer is full, ``connectionRefused()`` on a connected port whose peer
answers with ICMP port unreachable.  (asyncio's datagram transports
report send errors later, through a callback, and cannot be connected
after creation, which Twisted's ``connect()`` needs.)
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet._stream import prefixOf
from torsion.internet.address import IPv4Address, IPv6Address, fromSockname
from torsion.internet.base import isIPv4Address, isIPv6Address
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["MulticastPort", "Port", "ReactorUDPMixin"]

_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


def _isIPAddress(host: Any) -> bool:
    return isinstance(host, str) and (isIPv4Address(host) or isIPv6Address(host))


class Port:
    """A UDP socket bound to a local port. Twisted: ``twisted.internet.udp.Port``.

    Args:
        port: the local port (0 for ephemeral).
        proto: a ``DatagramProtocol``.
        interface: the local address ('' for all IPv4 interfaces; an IPv6
            literal selects IPv6).
        maxPacketSize: the largest datagram read.
        reactor: the reactor.
    """

    addressFamily = socket.AF_INET
    socketType = socket.SOCK_DGRAM
    maxThroughput = 256 * 1024
    _kind = "UDP"
    connected = 0
    disconnected = False
    socket: Any = None
    _realPortNumber: Any = None

    def __init__(
        self,
        port: Any,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as globalReactor

            reactor = globalReactor
        self.port = port
        self.protocol = proto
        self.interface = interface
        self.maxPacketSize = maxPacketSize
        self.reactor = reactor
        self._connectedAddr: Any = None
        self._reading = False
        self._stopped: Deferred[None] | None = None
        if isIPv6Address(interface):
            self.addressFamily = socket.AF_INET6

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{prefixOf(self.protocol)} on {self._realPortNumber}>"
        return f"<{prefixOf(self.protocol)} not connected>"

    # -- life cycle ------------------------------------------------------------

    def startListening(self) -> None:
        """Bind the socket and start the protocol; ``CannotListenError`` on failure."""
        self._bindSocket()
        self._connectToProtocol()

    def _createSocket(self) -> socket.socket:
        return socket.socket(self.addressFamily, self.socketType)

    def _bindSocket(self) -> None:
        sock = self._createSocket()
        try:
            self._prepareSocket(sock)
            sock.bind(self._bindAddress())
        except OSError as e:
            sock.close()
            raise error.CannotListenError(self.interface, self.port, e) from None
        sock.setblocking(False)
        self.socket = sock
        self._realPortNumber = self._listeningName(sock)
        log.msg(f"{prefixOf(self.protocol)} starting on {self._realPortNumber}")
        self.connected = 1

    def _prepareSocket(self, sock: socket.socket) -> None:
        """Hook: socket options before ``bind``."""

    def _bindAddress(self) -> Any:
        return (self.interface, self.port)

    def _listeningName(self, sock: socket.socket) -> Any:
        return sock.getsockname()[1]

    def _connectToProtocol(self) -> None:
        self.reactor._ports.add(self)
        self.reactor._dispatch(self.protocol.makeConnection, self)
        if self.connected:
            self.startReading()

    def startReading(self) -> None:
        if not self._reading and self.connected:
            self._reading = True
            self.reactor._getLoop().add_reader(self.socket.fileno(), self._readable)

    def stopReading(self) -> None:
        if self._reading:
            self._reading = False
            self.reactor._getLoop().remove_reader(self.socket.fileno())

    def _readable(self) -> None:
        self.reactor._dispatch(self.doRead)

    def doRead(self) -> None:
        """Read the datagrams waiting, up to ``maxThroughput`` bytes."""
        read = 0
        recvfrom = self.socket.recvfrom
        size = self.maxPacketSize
        while read < self.maxThroughput and self._reading:
            try:
                data, addr = recvfrom(size)
            except OSError as e:
                if e.errno in _AGAIN:
                    return
                if e.errno == errno.ECONNREFUSED:
                    if self._connectedAddr is not None:
                        self._call(self.protocol.connectionRefused)
                    continue
                log.err(None, f"Error reading from {self!r}")
                return
            read += len(data)
            self._deliver(data, addr)

    def _deliver(self, data: bytes, addr: Any) -> None:
        try:
            self.protocol.datagramReceived(data, self._addressOf(addr))
        except Exception:
            log.err(None, f"Unhandled error in {prefixOf(self.protocol)}.datagramReceived")

    def _addressOf(self, addr: Any) -> Any:
        return addr[:2] if isinstance(addr, tuple) else addr

    def _call(self, f: Any, *args: Any) -> None:
        try:
            f(*args)
        except Exception:
            log.err(None, f"Unhandled error in {f!r}")

    # -- writing ----------------------------------------------------------------

    def write(self, datagram: bytes, addr: Any = None) -> Any:
        """Send one datagram. Twisted: ``IUDPTransport.write``.

        Args:
            datagram: the bytes to send.
            addr: ``(host, port)`` with an IP address; must be None (or the
                peer) on a connected port.

        Raises:
            MessageLengthError: if the datagram is too big to send.
            InvalidAddressError: if ``addr``'s host is not an IP address.
        """
        if self._connectedAddr is not None:
            if addr not in (None, self._connectedAddr):
                raise ValueError(f"{addr!r} is not the connected address {self._connectedAddr!r}")
            send: Any = self.socket.send
            args: tuple[Any, ...] = (datagram,)
        else:
            if addr is None:
                raise ValueError("write() needs an address on an unconnected port")
            if not _isIPAddress(addr[0]):
                raise error.InvalidAddressError(
                    addr[0], "write() only accepts IP addresses, not hostnames"
                )
            send = self.socket.sendto
            args = (datagram, addr)
        while True:
            try:
                return send(*args)
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                if e.errno == errno.EMSGSIZE:
                    raise error.MessageLengthError("message too long") from None
                if e.errno == errno.ECONNREFUSED:
                    if self._connectedAddr is not None:
                        self._call(self.protocol.connectionRefused)
                    return None
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                    return None  # dropped, as Twisted does
                raise

    def writeSequence(self, seq: Any, addr: Any = None) -> Any:
        """Send the concatenation of ``seq`` as one datagram."""
        return self.write(b"".join(seq), addr)

    def connect(self, host: str, port: int) -> None:
        """Talk only to ``(host, port)`` from now on. Twisted: ``IUDPTransport.connect``.

        Raises:
            RuntimeError: if already connected.
            InvalidAddressError: if ``host`` is not an IP address.
        """
        if self._connectedAddr is not None:
            raise RuntimeError("already connected, reconnecting is not currently supported")
        if not _isIPAddress(host):
            raise error.InvalidAddressError(host, "not an IPv4 or IPv6 address.")
        self._connectedAddr = (host, port)
        self.socket.connect((host, port))

    # -- closing -------------------------------------------------------------------

    def stopListening(self) -> Deferred[None]:
        """Close the port. Twisted: ``IListeningPort.stopListening``.

        Returns:
            A Deferred fired once the socket is closed and the protocol's
            ``doStop`` has run.
        """
        if self._stopped is not None:
            return self._stopped
        d: Deferred[None] = Deferred()
        self._stopped = d
        if not self.connected:
            d.callback(None)
            return d
        self.stopReading()
        self.reactor._getLoop().call_soon(self.reactor._dispatch, self.connectionLost)
        return d

    loseConnection = stopListening

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Close the socket and stop the protocol (once)."""
        if not self.connected:
            return
        self.stopReading()
        self.connected = 0
        self.disconnected = True
        self.reactor._ports.discard(self)
        log.msg(f"({self._kind} Port {self._realPortNumber} Closed)")
        try:
            self.protocol.doStop()
        except Exception:
            log.err(None, "Error in protocol.doStop")
        self.socket.close()
        if self._stopped is None:
            self._stopped = Deferred()
        if not self._stopped.called:
            self._stopped.callback(None)

    def _shutdown(self) -> None:
        self.connectionLost()

    # -- information ------------------------------------------------------------

    def getHost(self) -> IPv4Address | IPv6Address:
        """The local address. Twisted: ``IListeningPort.getHost``."""
        return fromSockname(self.socket.getsockname(), "UDP")

    def getPeer(self) -> IPv4Address | IPv6Address | None:
        """The connected peer, if any."""
        if self._connectedAddr is None:
            return None
        return fromSockname(self._connectedAddr, "UDP")

    def setBroadcastAllowed(self, enabled: bool) -> None:
        """Allow sending to broadcast addresses. Twisted: ``setBroadcastAllowed``."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, int(bool(enabled)))

    def getBroadcastAllowed(self) -> bool:
        """Whether broadcast is allowed. Twisted: ``getBroadcastAllowed``."""
        return bool(self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST))

    def getHandle(self) -> Any:
        return self.socket

    def logPrefix(self) -> str:
        return f"{prefixOf(self.protocol)} ({self._kind})"


class MulticastPort(Port):
    """A UDP port that can join IPv4 multicast groups.

    Twisted: ``twisted.internet.udp.MulticastPort``.

    Args:
        listenMultiple: let several sockets bind the same port (SO_REUSEADDR
            and SO_REUSEPORT).
    """

    def __init__(
        self,
        port: Any,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
        listenMultiple: bool = False,
    ) -> None:
        super().__init__(port, proto, interface, maxPacketSize, reactor)
        self.listenMultiple = listenMultiple

    def _prepareSocket(self, sock: socket.socket) -> None:
        if self.listenMultiple:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)

    def getOutgoingInterface(self) -> str:
        """The interface multicast datagrams leave by. Twisted: ``getOutgoingInterface``."""
        packed = self.socket.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)
        return socket.inet_ntoa(packed)

    def setOutgoingInterface(self, addr: str) -> Deferred[int]:
        """Send multicast datagrams by the interface with address ``addr``.

        Twisted: ``setOutgoingInterface`` (returns a Deferred).
        """

        def apply(ip: str) -> int:
            self.socket.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
            return 1

        return self.reactor.resolve(addr).addCallback(apply)  # type: ignore[no-any-return]

    def getLoopbackMode(self) -> int:
        """Whether our own multicast datagrams come back. Twisted: ``getLoopbackMode``."""
        return int(self.socket.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP))

    def setLoopbackMode(self, mode: int) -> None:
        """Set whether our own multicast datagrams come back. Twisted: ``setLoopbackMode``."""
        self.socket.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(bool(mode)))

    def getTTL(self) -> int:
        """The multicast time-to-live. Twisted: ``getTTL``."""
        return int(self.socket.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL))

    def setTTL(self, ttl: int) -> None:
        """Set the multicast time-to-live. Twisted: ``setTTL``."""
        self.socket.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(ttl))

    def joinGroup(self, addr: str, interface: str = "") -> Deferred[Any]:
        """Join the multicast group ``addr``. Twisted: ``joinGroup``.

        Returns:
            A Deferred that fires when joined, or fails with
            ``MulticastJoinError``.
        """
        return self._membership(addr, interface, socket.IP_ADD_MEMBERSHIP)

    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[Any]:
        """Leave the multicast group ``addr``. Twisted: ``leaveGroup``."""
        return self._membership(addr, interface, socket.IP_DROP_MEMBERSHIP)

    def _membership(self, addr: str, interface: str, option: int) -> Deferred[Any]:
        def apply(group: str) -> Any:
            request = socket.inet_aton(group) + socket.inet_aton(interface or "0.0.0.0")
            try:
                self.socket.setsockopt(socket.IPPROTO_IP, option, request)
            except OSError as e:
                return Failure._withoutTraceback(error.MulticastJoinError(addr, interface, *e.args))
            return None

        d: Deferred[Any] = self.reactor.resolve(addr)
        return d.addCallback(apply)


class ReactorUDPMixin:
    """``IReactorUDP`` and ``IReactorMulticast`` for the asyncio reactor."""

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> Port:
        """Bind a UDP port for ``protocol``. Twisted: ``IReactorUDP.listenUDP``.

        Raises:
            CannotListenError: at once, if binding fails.
        """
        p = Port(port, protocol, interface, maxPacketSize, self)
        p.startListening()
        return p

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> MulticastPort:
        """Bind a multicast-capable UDP port. Twisted: ``IReactorMulticast.listenMulticast``."""
        p = MulticastPort(port, protocol, interface, maxPacketSize, self, listenMultiple)
        p.startListening()
        return p
