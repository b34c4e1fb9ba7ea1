"""MemoryReactor's fakes for UNIX datagram, multicast and process calls."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from torsion.internet import error, protocol
from torsion.internet.address import UNIXAddress
from torsion.internet.testing import MemoryReactor


def test_datagram_calls_recorded() -> None:
    """listenMulticast and the UNIX datagram calls are recorded with their arguments."""
    reactor = MemoryReactor()
    proto = protocol.DatagramProtocol()
    port = reactor.listenMulticast(5353, proto, listenMultiple=True)
    assert reactor.udpPorts == [(5353, proto, "", 8192, True)]
    assert port.getHost().type == "UDP"
    assert reactor.listenUNIXDatagram("/tmp/d", proto).getHost() == UNIXAddress("/tmp/d")
    reactor.connectUNIXDatagram("/tmp/e", proto, bindAddress="/tmp/f")
    assert [p[0] for p in reactor.unixDatagramPorts] == ["/tmp/d", "/tmp/e"]


def test_fake_process() -> None:
    """spawnProcess connects the protocol to a fake process that records and can end."""
    reactor = MemoryReactor()
    events: list[Any] = []

    class P(protocol.ProcessProtocol):
        def connectionMade(self) -> None:
            events.append("made")
            self.transport.write(b"input")

        def processExited(self, reason: Any) -> None:
            events.append(("exited", reason.value.exitCode))

        def processEnded(self, reason: Any) -> None:
            events.append(("ended", type(reason.value).__name__, reason.value.signal))

    proc = reactor.spawnProcess(P(), "cat", ["cat"])
    assert reactor.processes[0][1:3] == ("cat", ["cat"])
    proc.signalProcess("TERM")
    proc.end(signal.SIGTERM)
    assert proc.written == [(0, b"input")]
    assert proc.signals == ["TERM"]
    assert events == ["made", ("exited", None), ("ended", "ProcessTerminated", signal.SIGTERM)]
    with pytest.raises(error.ProcessExitedAlready):
        proc.signalProcess("KILL")
