"""StandardIO on pipes and files, in this process and in a child process."""

from __future__ import annotations

import os
import sys
import textwrap
from typing import Any

from tests.internet.test_process import Recorder
from tests.internet.tlshelpers import inThread
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred
from torsion.internet.stdio import PipeAddress, StandardIO


class Upper(protocol.Protocol):
    def __init__(self) -> None:
        self.lost: Deferred[Any] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data.upper())

    def connectionLost(self, reason: Any) -> None:
        self.lost.callback([reason])


def readAll(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as f:
        return f.read()


def test_pipes_echo_then_close_on_eof(reactor: Any) -> None:
    """Data on stdin is answered on stdout; EOF on stdin closes the connection cleanly."""
    inR, inW = os.pipe()
    outR, outW = os.pipe()
    proto = Upper()
    transport = StandardIO(proto, stdin=inR, stdout=outW, reactor=reactor)
    assert transport.getPeer() == PipeAddress() == transport.getHost()
    os.write(inW, b"hello stdio")
    os.close(inW)
    [reason] = runUntil(reactor, proto.lost)
    assert reason.check(error.ConnectionDone)
    assert readAll(outR) == b"HELLO STDIO"


def test_half_close_keeps_writing(reactor: Any) -> None:
    """A half-closeable protocol hears readConnectionLost and can still write."""
    inR, inW = os.pipe()
    outR, outW = os.pipe()

    class Half(Upper):
        def readConnectionLost(self) -> None:
            self.transport.write(b" (stdin closed)")
            self.transport.loseConnection()

    proto = Half()
    StandardIO(proto, stdin=inR, stdout=outW, reactor=reactor)
    os.write(inW, b"abc")
    os.close(inW)
    [reason] = runUntil(reactor, proto.lost)
    assert reason.check(error.ConnectionDone)
    assert readAll(outR) == b"ABC (stdin closed)"


def test_regular_files(reactor: Any, tmp_path: Any) -> None:
    """stdin and stdout may be regular files (which the loop cannot poll)."""
    source = tmp_path / "in.txt"
    source.write_bytes(b"x" * 200_000)
    target = tmp_path / "out.txt"
    inFd = os.open(source, os.O_RDONLY)
    outFd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    proto = Upper()
    StandardIO(proto, stdin=inFd, stdout=outFd, reactor=reactor)
    [reason] = runUntil(reactor, proto.lost)
    assert reason.check(error.ConnectionDone)
    assert target.read_bytes() == b"X" * 200_000


def test_lose_connection_flushes(reactor: Any) -> None:
    """loseConnection sends everything written, then closes both descriptors."""
    inR, inW = os.pipe()
    outR, outW = os.pipe()

    class Writer(Upper):
        def connectionMade(self) -> None:
            for _ in range(100):
                self.transport.write(b"y" * 1000)
            self.transport.loseConnection()

    proto = Writer()
    reading = inThread(reactor, lambda: readAll(outR))  # more than a pipe holds
    StandardIO(proto, stdin=inR, stdout=outW, reactor=reactor)
    [reason] = runUntil(reactor, proto.lost)
    assert reason.check(error.ConnectionDone)
    assert runUntil(reactor, reading) == b"y" * 100_000
    os.close(inW)


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {src!r})
    from torsion.internet._loops import newEventLoop
    from torsion.internet.asyncioreactor import AsyncioReactor
    from torsion.internet import protocol, stdio

    reactor = AsyncioReactor(newEventLoop({loop!r}))

    class Upper(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data.upper())

        def connectionLost(self, reason):
            sys.stderr.write("lost " + type(reason.value).__name__)
            reactor.stop()

    stdio.StandardIO(Upper(), reactor=reactor)
    reactor.run()
    """
)


def test_in_a_child_process(reactor: Any, loop_impl: str) -> None:
    """A child process serving StandardIO answers on its stdout and ends cleanly."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    code = CHILD.format(src=os.path.abspath(src), loop=loop_impl)
    proto = Recorder()
    proc = reactor.spawnProcess(proto, sys.executable, [sys.executable, "-c", code], env=None)
    proc.write(b"from the parent")
    proc.closeStdin()
    [reason] = runUntil(reactor, proto.ended, timeout=20)
    assert bytes(proto.out.get(2, b"")) == b"lost ConnectionDone"
    assert bytes(proto.out[1]) == b"FROM THE PARENT"
    assert reason.check(error.ProcessDone)
