"""ReconnectingClientFactory against a real echo server process that dies and comes back."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.serverprocess import killServer, startServer
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred
from torsion.python import log
from torsion.python.failure import Failure


class EchoClient(protocol.Protocol):
    def connectionMade(self) -> None:
        self.factory.resetDelay()
        self.factory.fire("connected", self)

    def dataReceived(self, data: bytes) -> None:
        self.factory.fire("data", data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.factory.fire("lost", reason.type)


class RecordingClock:
    """The reactor's clock, recording the delays it is asked to wait."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.delays: list[float] = []

    def callLater(self, delay: float, f: Any, *args: Any) -> Any:
        self.delays.append(round(delay, 9))
        return self.reactor.callLater(delay, f, *args)


class FastReconnecting(protocol.ReconnectingClientFactory):
    """Retries after 0.05, 0.1, 0.2, then every 0.4 s (no jitter, for a fixed schedule)."""

    protocol = EchoClient
    initialDelay = 0.05  # used from the first retry on (twisted#5103 is fixed)
    maxDelay = 0.4
    factor = 2.0
    jitter = None
    noisy = True

    def __init__(self, reactor: Any) -> None:
        self.clock = RecordingClock(reactor)
        self.schedule = self.clock.delays
        self.waiting: dict[str, Deferred[Any]] = {}
        self.failures = 0

    def when(self, event: str) -> Deferred[Any]:
        self.waiting[event] = d = Deferred()
        return d

    def fire(self, event: str, value: Any) -> None:
        d = self.waiting.pop(event, None)
        if d is not None:
            d.callback(value)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        assert reason.check(error.ConnectionRefusedError), reason
        self.failures += 1
        self.fire(f"failure{self.failures}", None)
        super().clientConnectionFailed(connector, reason)


@pytest.mark.slow
def test_reconnects_to_restarted_server_process(
    reactor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The client retries on schedule while the server is down and reconnects when it is back."""
    caplog.set_level(logging.INFO, logger="torsion")
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        text = log.textFromEventDict(event) or ""
        if "retry" in text or "Abandoning" in text:
            lines.append(text)

    log.addObserver(observe)
    server = runUntil(reactor, startServer(reactor), 30)
    servers = [server]
    factory = FastReconnecting(reactor)
    try:
        connected = factory.when("connected")
        connector = reactor.connectTCP("127.0.0.1", server.port, factory, timeout=5)
        client = runUntil(reactor, connected)
        echoed = factory.when("data")
        client.transport.write(b"one")
        assert runUntil(reactor, echoed) == b"one"

        # The server process dies: the client sees the loss and retries on schedule.
        lost, thirdFailure = factory.when("lost"), factory.when("failure3")
        runUntil(reactor, killServer(reactor, server), 30)
        runUntil(reactor, lost)
        runUntil(reactor, thirdFailure)
        assert factory.schedule[:4] == [0.05, 0.1, 0.2, 0.4]

        # It comes back on the same port: the next retry connects.
        connected = factory.when("connected")
        server = runUntil(reactor, startServer(reactor, server.port), 30)
        servers.append(server)
        client = runUntil(reactor, connected, 30)
        assert (factory.retries, factory.delay) == (0, 0.05)
        failures = factory.failures
        assert factory.schedule == [min(0.05 * 2**i, 0.4) for i in range(failures + 1)]
        echoed = factory.when("data")
        client.transport.write(b"two")
        assert runUntil(reactor, echoed) == b"two"

        # stopTrying ends it: losing the connection is not retried.
        factory.stopTrying()
        lost = factory.when("lost")
        connector.disconnect()
        assert runUntil(reactor, lost) is error.ConnectionDone
        assert reactor.getDelayedCalls() == []
        assert factory._callID is None
        assert connector.state == "disconnected"
    finally:
        factory.stopTrying()
        log.removeObserver(observe)
        for s in servers:
            runUntil(reactor, killServer(reactor, s), 30)

    retryLines = [line for line in lines if "will retry in" in line]
    assert len(retryLines) == len(factory.schedule)
    assert retryLines[0].endswith("will retry in 0 seconds")
    assert "Connector" in retryLines[0]
