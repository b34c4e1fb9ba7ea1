"""UNIX sockets on a real loop: stream echo, addresses, the socket file's life,
PID locks and stale sockets, the abstract namespace, datagram ports."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.address import UNIXAddress
from torsion.internet.defer import Deferred
from torsion.python.lockfile import FilesystemLock, isLocked


class Echo(protocol.Protocol):
    def connectionMade(self) -> None:
        self.factory.peers.append((self.transport.getHost(), self.transport.getPeer()))

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    protocol = Echo

    def __init__(self) -> None:
        self.peers: list[Any] = []
        self.addresses: list[Any] = []

    def buildProtocol(self, addr: Any) -> Any:
        self.addresses.append(addr)
        return super().buildProtocol(addr)


class Collect(protocol.Protocol):
    def __init__(self, payload: bytes, done: Deferred[Any]) -> None:
        self.payload = payload
        self.done = done
        self.received = b""

    def connectionMade(self) -> None:
        self.addresses = (self.transport.getHost(), self.transport.getPeer())
        self.transport.write(self.payload)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= len(self.payload):
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback((self.received, reason))


class FailFactory(protocol.ClientFactory):
    def __init__(self) -> None:
        self.failed: Deferred[Any] = Deferred()

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.failed.callback([reason])


def echoRoundTrip(reactor: Any, address: Any) -> tuple[Any, Any]:
    done: Deferred[Any] = Deferred()
    client = Collect(b"z" * 300_000, done)
    connector = reactor.connectUNIX(address, protocol.ClientFactory.forProtocol(lambda: client))
    assert connector.getDestination() == UNIXAddress(address)
    received, reason = runUntil(reactor, done)
    assert received == b"z" * 300_000
    assert reason.check(error.ConnectionDone)
    return client.addresses, connector


def test_echo_over_a_socket_file(reactor: Any, tmp_path: Any) -> None:
    """listenUNIX/connectUNIX echo 300 kB; the file has the mode and is removed on stop."""
    path = str(tmp_path / "echo.sock")
    factory = EchoFactory()
    port = reactor.listenUNIX(path, factory, mode=0o600)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert port.getHost() == UNIXAddress(path)
    (clientHost, clientPeer), _ = echoRoundTrip(reactor, path)
    assert clientHost == UNIXAddress(None)
    assert clientPeer == UNIXAddress(path)
    [(serverHost, serverPeer)] = factory.peers
    assert serverHost == UNIXAddress(path)
    assert serverPeer == UNIXAddress(None)
    assert factory.addresses == [UNIXAddress(None)]
    runUntil(reactor, port.stopListening())
    assert not os.path.exists(path)


def test_path_in_use_cannot_listen(reactor: Any, tmp_path: Any) -> None:
    """A second listenUNIX on the same path raises CannotListenError (nothing removed)."""
    path = str(tmp_path / "busy.sock")
    port = reactor.listenUNIX(path, EchoFactory())
    with pytest.raises(error.CannotListenError):
        reactor.listenUNIX(path, EchoFactory())
    assert os.path.exists(path)
    runUntil(reactor, port.stopListening())


def test_stale_socket_removed_with_want_pid(reactor: Any, tmp_path: Any) -> None:
    """With wantPID, a socket file and lock left by a dead process are replaced."""
    path = str(tmp_path / "stale.sock")
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(path)
    leftover.close()  # the file stays behind, like after a crash
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    os.symlink(dead.stdout.decode().strip(), path + ".lock")
    with pytest.raises(error.CannotListenError):
        reactor.listenUNIX(path, EchoFactory())  # without wantPID the file is in the way
    port = reactor.listenUNIX(path, EchoFactory(), wantPID=1)
    assert isLocked(path + ".lock")
    assert int(os.readlink(path + ".lock")) == os.getpid()
    echoRoundTrip(reactor, path)
    runUntil(reactor, port.stopListening())
    assert not os.path.exists(path)
    assert not os.path.lexists(path + ".lock")


def test_live_lock_refuses_listen(reactor: Any, tmp_path: Any) -> None:
    """With wantPID, a lock held by a live process makes listenUNIX fail."""
    path = str(tmp_path / "held.sock")
    lock = FilesystemLock(path + ".lock")
    assert lock.lock() and lock.clean
    with pytest.raises(error.CannotListenError, match="Cannot acquire lock"):
        reactor.listenUNIX(path, EchoFactory(), wantPID=1)
    lock.unlock()
    assert not os.path.exists(path)


def test_check_pid_without_lock_fails(reactor: Any, tmp_path: Any) -> None:
    """connectUNIX with checkPID fails with BadFileError when nobody holds the lock."""
    path = str(tmp_path / "nolock.sock")
    port = reactor.listenUNIX(path, EchoFactory())
    factory = FailFactory()
    reactor.connectUNIX(path, factory, checkPID=1)
    [reason] = runUntil(reactor, factory.failed)
    assert reason.check(error.BadFileError)
    runUntil(reactor, port.stopListening())


def test_connect_to_missing_path_fails(reactor: Any, tmp_path: Any) -> None:
    """connectUNIX to a path with no socket fails with a ConnectError naming ENOENT."""
    factory = FailFactory()
    reactor.connectUNIX(str(tmp_path / "missing.sock"), factory)
    [reason] = runUntil(reactor, factory.failed)
    assert reason.check(error.ConnectError)
    assert "No such file or directory" in reason.getErrorMessage()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_abstract_namespace(reactor: Any, tmp_path: Any) -> None:
    """A name starting with NUL listens in the abstract namespace, with no file."""
    name = f"\0torsion-test-{os.getpid()}-{id(tmp_path)}"
    port = reactor.listenUNIX(name, EchoFactory())
    assert port.getHost().name in (name, name.encode())
    echoRoundTrip(reactor, name)
    runUntil(reactor, port.stopListening())


def test_datagram_ports(reactor: Any, tmp_path: Any) -> None:
    """A connected UNIX datagram port talks to a listening one, which answers back."""
    serverPath = str(tmp_path / "dgram.sock")
    clientPath = str(tmp_path / "client.sock")

    class Answer(protocol.DatagramProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.transport.write(datagram.upper(), addr)

    got: Deferred[Any] = Deferred()

    class Ask(protocol.ConnectedDatagramProtocol):
        def startProtocol(self) -> None:
            self.transport.write(b"question")

        def datagramReceived(self, datagram: bytes, addr: Any = None) -> None:
            got.callback(datagram)

    server = reactor.listenUNIXDatagram(serverPath, Answer())
    assert server.getHost() == UNIXAddress(serverPath)
    client = reactor.connectUNIXDatagram(serverPath, Ask(), bindAddress=clientPath)
    assert client.getPeer() == UNIXAddress(serverPath)
    assert runUntil(reactor, got) == b"QUESTION"
    runUntil(reactor, client.stopListening())
    runUntil(reactor, server.stopListening())
    assert not os.path.exists(serverPath)
    assert not os.path.exists(clientPath)


def test_connect_datagram_to_missing_path(reactor: Any, tmp_path: Any) -> None:
    """connectUNIXDatagram to a missing path calls connectionFailed."""
    failed: Deferred[Any] = Deferred()

    class Ask(protocol.ConnectedDatagramProtocol):
        def connectionFailed(self, failure: Any) -> None:
            failed.callback([failure])

    reactor.connectUNIXDatagram(str(tmp_path / "nobody.sock"), Ask())
    [failure] = runUntil(reactor, failed)
    assert failure.check(FileNotFoundError)
