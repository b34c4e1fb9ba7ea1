"""In-memory reactors for tests: they record connection calls and do no I/O.

Public through :mod:`torsion.internet.testing`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from socket import AF_INET, AF_INET6
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.base import isIPv6Address
from torsion.internet.task import Clock
from torsion.python.failure import Failure

__all__ = ["MemoryReactor", "MemoryReactorClock", "RaisingMemoryReactor"]


class _FakePort:
    def __init__(self, hostAddress: Any) -> None:
        self._hostAddress = hostAddress

    def startListening(self) -> None:
        pass

    def stopListening(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        d.callback(None)
        return d

    def getHost(self) -> Any:
        return self._hostAddress


class _FakeConnector:
    """Records whether it was asked to stop or disconnect."""

    _disconnected = False
    stoppedConnecting = False

    def __init__(self, address: Any) -> None:
        self._address = address

    def stopConnecting(self) -> None:
        self.stoppedConnecting = True

    def disconnect(self) -> None:
        self._disconnected = True

    def connect(self) -> None:
        pass

    def getDestination(self) -> Any:
        return self._address


class _FakeProcess:
    """A process transport that records what is done to it (no process runs).

    ``end(status)`` makes the "child" exit: the protocol gets
    ``processExited`` and ``processEnded`` with Twisted's reasons.
    """

    pid: int | None = 4242

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.written: list[tuple[int, bytes]] = []
        self.closed: list[int] = []
        self.signals: list[Any] = []

    def write(self, data: bytes) -> None:
        self.written.append((0, data))

    def writeToChild(self, childFD: int, data: bytes) -> None:
        self.written.append((childFD, data))

    def closeChildFD(self, childFD: int) -> None:
        self.closed.append(childFD)

    def closeStdin(self) -> None:
        self.closeChildFD(0)

    def loseConnection(self) -> None:
        for fd in (0, 1, 2):
            self.closeChildFD(fd)

    def signalProcess(self, signalID: Any) -> None:
        if self.pid is None:
            raise error.ProcessExitedAlready()
        self.signals.append(signalID)

    def end(self, status: int = 0) -> None:

        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            reason: Exception = (
                error.ProcessDone(status)
                if code == 0
                else error.ProcessTerminated(code, None, status)
            )
        else:
            reason = error.ProcessTerminated(None, os.WTERMSIG(status), status)
        self.pid = None
        self.proto.processExited(Failure(reason))
        self.proto.processEnded(Failure(reason))


class MemoryReactor:
    """Records connection calls and never does I/O.

    Twisted: ``twisted.internet.testing.MemoryReactor``.

    Attributes:
        tcpClients: ``(host, port, factory, timeout, bindAddress)`` tuples.
        tcpServers: ``(port, factory, backlog, interface)`` tuples.
        sslClients, sslServers, unixClients, unixServers: the same for
            the other transports.
        connectors: the fake connectors handed out.
        triggers: ``{phase: {eventType: [(callable, args, kw)]}}``.
    """

    def __init__(self) -> None:
        self.hasInstalled = False
        self.running: bool | None = False
        self.hasRun = False
        self.hasStopped = False
        self.hasCrashed = False
        self.whenRunningHooks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self.whenRunningHooks = []
        self.triggers: dict[str, dict[str, list[Any]]] = {}
        self.tcpClients: list[Any] = []
        self.tcpServers: list[Any] = []
        self.sslClients: list[Any] = []
        self.sslServers: list[Any] = []
        self.unixClients: list[Any] = []
        self.unixServers: list[Any] = []
        self.udpPorts: list[Any] = []
        self.adoptedPorts: list[Any] = []
        self.adoptedStreamConnections: list[Any] = []
        self.connectors: list[_FakeConnector] = []
        self.unixDatagramPorts: list[Any] = []
        self.processes: list[Any] = []
        self.readers: set[Any] = set()
        self.writers: set[Any] = set()

    def install(self) -> None:
        self.hasInstalled = True

    def resolve(self, name: str, timeout: Any = 10) -> Deferred[str]:
        raise NotImplementedError("MemoryReactor does not resolve names")

    def run(self) -> None:
        """Run the ``callWhenRunning`` hooks, then stop."""
        assert self.running is False
        self.running = True
        self.hasRun = True
        for f, args, kw in self.whenRunningHooks:
            f(*args, **kw)
        self.stop()

    def stop(self) -> None:
        self.running = False
        self.hasStopped = True

    def crash(self) -> None:
        self.running = None
        self.hasCrashed = True

    def iterate(self, delay: float = 0) -> None:
        raise NotImplementedError("MemoryReactor does not iterate")

    def fireSystemEvent(self, eventType: str) -> None:
        raise NotImplementedError("MemoryReactor does not fire events")

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> None:
        self.triggers.setdefault(phase, {}).setdefault(eventType, []).append((callable, args, kw))

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        raise NotImplementedError("MemoryReactor does not remove triggers")

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        if self.running or self.hasRun:
            callable(*args, **kw)
            return None
        self.whenRunningHooks.append((callable, args, kw))
        return None

    def adoptStreamPort(self, fileno: int, addressFamily: int, factory: Any) -> _FakePort:
        self.adoptedPorts.append((fileno, addressFamily, factory))
        return _FakePort(_anyAddress("TCP", addressFamily))

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: int, factory: Any) -> None:
        self.adoptedStreamConnections.append((fileDescriptor, addressFamily, factory))

    def adoptDatagramPort(
        self, fileno: int, addressFamily: int, protocol: Any, maxPacketSize: int = 8192
    ) -> _FakePort:
        self.adoptedPorts.append((fileno, addressFamily, protocol, maxPacketSize))
        return _FakePort(_anyAddress("UDP", addressFamily))

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        self.tcpServers.append((port, factory, backlog, interface))
        if isIPv6Address(interface):
            return _FakePort(IPv6Address("TCP", interface, port))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def _connect(self, address: Any, factory: Any) -> _FakeConnector:
        conn = _FakeConnector(address)
        factory.startedConnecting(conn)
        self.connectors.append(conn)
        return conn

    def connectTCP(
        self, host: str, port: int, factory: Any, timeout: float = 30, bindAddress: Any = None
    ) -> Any:
        self.tcpClients.append((host, port, factory, timeout, bindAddress))
        addrType = IPv6Address if isIPv6Address(host) else IPv4Address
        return self._connect(addrType("TCP", host, port), factory)

    def listenSSL(
        self, port: int, factory: Any, contextFactory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        self.sslServers.append((port, factory, contextFactory, backlog, interface))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        self.sslClients.append((host, port, factory, contextFactory, timeout, bindAddress))
        return self._connect(IPv4Address("TCP", host, port), factory)

    def listenUNIX(
        self, address: str, factory: Any, backlog: int = 50, mode: int = 0o666, wantPID: int = 0
    ) -> Any:
        self.unixServers.append((address, factory, backlog, mode, wantPID))
        return _FakePort(UNIXAddress(address))

    def connectUNIX(
        self, address: str, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> Any:
        self.unixClients.append((address, factory, timeout, checkPID))
        return self._connect(UNIXAddress(address), factory)

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> Any:
        self.udpPorts.append((port, protocol, interface, maxPacketSize))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> Any:
        self.udpPorts.append((port, protocol, interface, maxPacketSize, listenMultiple))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    def listenUNIXDatagram(
        self, address: str, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> Any:
        self.unixDatagramPorts.append((address, protocol, maxPacketSize, mode))
        return _FakePort(UNIXAddress(address))

    def connectUNIXDatagram(
        self,
        address: str,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: Any = None,
    ) -> Any:
        self.unixDatagramPorts.append((address, protocol, maxPacketSize, mode, bindAddress))
        return _FakePort(UNIXAddress(bindAddress))

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: Any,
        args: Any = (),
        env: Any = {},  # noqa: B006 - Twisted's default
        path: Any = None,
        uid: Any = None,
        gid: Any = None,
        usePTY: Any = 0,
        childFDs: Any = None,
    ) -> _FakeProcess:
        """Record the call and connect the protocol to a :class:`_FakeProcess`."""
        self.processes.append(
            (processProtocol, executable, args, env, path, uid, gid, usePTY, childFDs)
        )
        process = _FakeProcess(processProtocol)
        processProtocol.makeConnection(process)
        return process

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)

    def addWriter(self, writer: Any) -> None:
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        self.writers.discard(writer)

    def getReaders(self) -> list[Any]:
        return list(self.readers)

    def getWriters(self) -> list[Any]:
        return list(self.writers)

    def removeAll(self) -> list[Any]:
        everything = list(self.readers | self.writers)
        self.readers.clear()
        self.writers.clear()
        return everything


def _anyAddress(kind: Any, family: int) -> Any:
    if family == AF_INET:
        return IPv4Address(kind, "0.0.0.0", 1234)
    if family == AF_INET6:
        return IPv6Address(kind, "::", 1234)
    raise error.UnsupportedAddressFamily()


class MemoryReactorClock(MemoryReactor, Clock):
    """A MemoryReactor with a fake clock. Twisted: ``testing.MemoryReactorClock``."""

    def __init__(self) -> None:
        MemoryReactor.__init__(self)
        Clock.__init__(self)


class RaisingMemoryReactor:
    """A reactor whose listen/connect methods raise a given exception.

    Twisted: ``testing.RaisingMemoryReactor``.
    """

    def __init__(
        self, listenException: Exception | None = None, connectException: Exception | None = None
    ):
        self._listenException = listenException
        self._connectException = connectException

    def _raise(self, exc: Exception | None) -> Any:
        if exc is None:
            raise RuntimeError("no exception configured")
        raise exc

    def listenTCP(self, *a: Any, **kw: Any) -> Any:
        return self._raise(self._listenException)

    listenSSL = listenUNIX = listenUDP = adoptStreamPort = adoptDatagramPort = listenTCP

    def connectTCP(self, *a: Any, **kw: Any) -> Any:
        return self._raise(self._connectException)

    connectSSL = connectUNIX = adoptStreamConnection = connectTCP
