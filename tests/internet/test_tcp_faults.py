"""Fault and load scenarios from the reliability reference (real loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

from tests.internet.pairs import Recorder, connectPair
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


def test_many_small_writes_outside_dispatch(reactor: Any) -> None:
    """10,000 writes made outside any callback all arrive, in order, byte-exact."""
    s, c, port = connectPair(reactor)
    chunks = [b"%05d" % i for i in range(10_000)]
    for chunk in chunks:
        c.transport.write(chunk)
    c.transport.loseConnection()
    runUntil(reactor, s.lost)
    assert s.data == b"".join(chunks)
    runUntil(reactor, c.lost)
    runUntil(reactor, port.stopListening())


def test_bulk_echo_many_clients(reactor: Any) -> None:
    """25 clients each send 2 x 1 MiB through an echo server and get exact replies."""

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    payload = os.urandom(1024 * 1024)
    finished: list[bytes] = []
    allDone: Deferred[None] = Deferred()

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            self.received = bytearray()
            self.transport.write(payload)
            self.transport.write(payload)

        def dataReceived(self, data: bytes) -> None:
            self.received += data
            if len(self.received) >= 2 * len(payload):
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            finished.append(bytes(self.received))
            if len(finished) == 25:
                allDone.callback(None)

    sf = protocol.Factory.forProtocol(Echo)
    sf.noisy = False
    port = reactor.listenTCP(0, sf, interface="127.0.0.1")
    cf = protocol.ClientFactory.forProtocol(Sender)
    cf.noisy = False
    for _ in range(25):
        reactor.connectTCP("127.0.0.1", port.getHost().port, cf)
    runUntil(reactor, allDone, timeout=60)
    assert all(r == payload + payload for r in finished)
    runUntil(reactor, port.stopListening())


class AbortOnData(Recorder):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(b"never sent")
        self.transport.abortConnection()
        self.transport.loseConnection()
        self.transport.abortConnection()


def test_abort_inside_data_received(reactor: Any) -> None:
    """abortConnection() in dataReceived: ConnectionAborted once, pending writes dropped."""
    s, c, port = connectPair(reactor, server=AbortOnData)
    c.transport.write(b"go")
    [reason] = runUntil(reactor, s.lost)
    assert reason.check(error.ConnectionAborted) and s.lostCount == 1
    runUntil(reactor, c.lost)
    assert c.data == b""
    runUntil(reactor, port.stopListening())


class DoubleHalfClose(Recorder):
    def connectionMade(self) -> None:
        super().connectionMade()
        self.writeLost = 0

    def writeConnectionLost(self) -> None:
        self.writeLost += 1

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()


def test_double_half_close_is_harmless(reactor: Any) -> None:
    """Calling loseWriteConnection twice sends one FIN and one writeConnectionLost."""
    s, c, port = connectPair(reactor, client=DoubleHalfClose)
    c.transport.write(b"data")
    c.transport.loseWriteConnection()
    c.transport.loseWriteConnection()
    runUntil(reactor, s.lost)
    assert s.data == b"data"
    runUntil(reactor, c.lost)
    assert c.writeLost == 1 and c.reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


EMFILE_SERVER = """
import resource, socket, sys
from torsion.internet import protocol, reactor

class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)
        self.transport.loseConnection()

f = protocol.Factory.forProtocol(Echo)
f.noisy = False
port = reactor.listenTCP(0, f, interface="127.0.0.1")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
# Use up every descriptor but a few.
hogs = []
try:
    while True:
        hogs.append(socket.socket())
except OSError:
    pass
for _ in range(4):
    hogs.pop().close()

def release():
    for h in hogs:
        h.close()
    hogs.clear()
    print("released", flush=True)

reactor.callWhenRunning(print, port.getHost().port, flush=True)
reactor.callLater(1.5, release)
reactor.callLater(30, reactor.stop)
reactor.run()
"""


def test_server_survives_fd_exhaustion(tmp_path: Any, loop_impl: str) -> None:
    """Out of file descriptors, the server sheds peers and recovers when fds free up."""
    import socket

    script = tmp_path / "emfile_server.py"
    script.write_text(textwrap.dedent(EMFILE_SERVER))
    # The loop logs every failed accept: keep stderr in a file, not a pipe
    # that could fill up and block the server.
    errors = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-u", str(script)],
        stdout=subprocess.PIPE,
        stderr=errors,
        env={**os.environ, "TORSION_LOOP": loop_impl},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        # Many clients while the server has almost no descriptors left.
        early = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            early.append(sock)
        assert proc.stdout.readline().strip() == b"released"
        for sock in early:
            sock.close()
        # After the release the server serves normally again.
        for i in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.settimeout(10)
                sock.sendall(b"ping %d" % i)
                assert sock.recv(100) == b"ping %d" % i
        assert proc.poll() is None, "the server died"
    finally:
        proc.kill()
        proc.communicate(timeout=10)
        errors.close()
