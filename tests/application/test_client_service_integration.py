"""ClientService against a real echo server process that dies and comes back."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.serverprocess import killServer, startServer
from tests.support import runUntil
from torsion.application.internet import ClientService, backoffPolicy
from torsion.internet import endpoints, error, protocol
from torsion.internet.defer import CancelledError, Deferred
from torsion.python import log
from torsion.python.failure import Failure


class EchoClient(protocol.Protocol):
    def __init__(self) -> None:
        self.received: Deferred[bytes] | None = None
        self.lost: Deferred[type[BaseException]] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        if self.received is not None:
            d, self.received = self.received, None
            d.callback(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost.callback(reason.type)

    def ask(self, data: bytes) -> Deferred[bytes]:
        self.received = Deferred()
        self.transport.write(data)
        return self.received


def policy(attempt: int) -> float:
    return backoffPolicy(initialDelay=0.02, maxDelay=0.3, factor=2.0, jitter=lambda: 0.0)(attempt)


@pytest.mark.slow
def test_client_service_survives_server_restart(
    reactor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Retries while the server is down, fails whenConnected(3) on cue, reconnects when back."""
    caplog.set_level(logging.INFO, logger="torsion")
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        text = log.textFromEventDict(event) or ""
        if text.startswith("Scheduling retry"):
            lines.append(text)

    log.addObserver(observe)
    server = runUntil(reactor, startServer(reactor), 30)
    servers = [server]
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.port, timeout=5)
    service = ClientService(
        endpoint, protocol.Factory.forProtocol(EchoClient), retryPolicy=policy, clock=reactor
    )
    try:
        service.startService()
        client = runUntil(reactor, service.whenConnected())
        assert runUntil(reactor, client.ask(b"one")) == b"one"

        # The server dies; waiting for 3 failures in a row fails with the third.
        runUntil(reactor, killServer(reactor, server), 30)
        runUntil(reactor, client.lost)
        with pytest.raises(error.ConnectionRefusedError):
            runUntil(reactor, service.whenConnected(failAfterFailures=3), 30)
        assert lines[:4] == [
            f"Scheduling retry {n} to connect {endpoint} in {policy(n)} seconds."
            for n in (1, 2, 3, 4)
        ]

        # The server is back on the same port: the service reconnects by itself.
        server = runUntil(reactor, startServer(reactor, server.port), 30)
        servers.append(server)
        client = runUntil(reactor, service.whenConnected(), 30)
        assert runUntil(reactor, client.ask(b"two")) == b"two"

        # Stopping closes the connection; waiters are cancelled; nothing is left scheduled.
        runUntil(reactor, service.stopService())
        assert runUntil(reactor, client.lost) is error.ConnectionDone
        with pytest.raises(CancelledError):
            runUntil(reactor, service.whenConnected())
        assert reactor.getDelayedCalls() == []
    finally:
        if service.running:
            runUntil(reactor, service.stopService())
        log.removeObserver(observe)
        for s in servers:
            runUntil(reactor, killServer(reactor, s), 30)
