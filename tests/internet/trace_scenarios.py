"""Client connection scenarios written once, run on Twisted and on torsion.

Every scenario records the callbacks a client factory, its protocol and its
connector see, in order, and fires a Deferred with that trace.  The module
takes the framework's modules as arguments, so the very same code runs with
``twisted.internet`` (in a subprocess, see ``__main__`` below) and with
``torsion.internet`` (in the test process), and the traces can be compared.

Nothing here depends on timing except ``timeout``, which connects to a
loopback listener whose accept queue is full, so the connect never completes.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

SCENARIOS = [
    "success",
    "local_close",
    "abort",
    "peer_abort",
    "refused",
    "timeout",
    "stop_connecting",
    "build_returns_none",
    "reconnect_after_failure",
    "reconnect_after_loss",
    "connection_made_raises",
]


def _reasonName(reason: Any) -> str:
    return type(reason.value).__name__


def runScenario(name: str, reactor: Any, protocol: Any, defer: Any) -> Any:
    """Start scenario ``name``; return a Deferred firing with its trace."""
    trace: list[str] = []
    done = defer.Deferred()
    cleanup: list[Any] = []

    def record(event: str) -> None:
        if event.startswith("dataReceived:") and trace and trace[-1].startswith("dataReceived:"):
            trace[-1] += event.split(":", 1)[1]
        else:
            trace.append(event)

    def finish() -> None:
        if done.called:
            return
        for c in cleanup:
            c()
        reactor.callLater(0, done.callback, trace)

    class Server(protocol.Protocol):
        def connectionMade(self) -> None:
            if name in ("success", "reconnect_after_loss"):
                self.transport.write(b"hello")
                self.transport.loseConnection()
            elif name == "peer_abort":
                self.transport.abortConnection()

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            record("connectionMade")
            if name == "local_close":
                self.transport.write(b"ping")
            elif name == "abort":
                self.transport.abortConnection()
            elif name == "connection_made_raises":
                raise ValueError("boom")

        def dataReceived(self, data: bytes) -> None:
            record("dataReceived:" + data.decode())
            if name == "local_close" and data.endswith(b"g"):
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            record("connectionLost:" + _reasonName(reason))

    class Factory(protocol.ClientFactory):
        noisy = False
        attempts = 0

        def doStart(self) -> None:
            record("doStart")

        def doStop(self) -> None:
            record("doStop")
            finish()

        def startedConnecting(self, connector: Any) -> None:
            self.attempts += 1
            record(f"startedConnecting:{connector.state}")
            if name == "stop_connecting":
                connector.stopConnecting()

        def buildProtocol(self, addr: Any) -> Any:
            record(f"buildProtocol:{type(addr).__name__}")
            if name == "build_returns_none":
                return None
            return Client()

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            record(f"clientConnectionFailed:{_reasonName(reason)}:{connector.state}")
            if name == "reconnect_after_failure" and self.attempts < 2:
                connector.connect()

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            record(f"clientConnectionLost:{_reasonName(reason)}:{connector.state}")
            if name == "reconnect_after_loss" and self.attempts < 2:
                connector.connect()

    serverFactory = protocol.Factory()
    serverFactory.protocol = Server
    serverFactory.noisy = False
    host = "127.0.0.1"
    timeout = 30
    if name in ("refused", "reconnect_after_failure"):
        probe = socket.socket()
        probe.bind((host, 0))
        portNumber = probe.getsockname()[1]
        probe.close()
    elif name == "timeout":
        blackhole = socket.socket()
        blackhole.bind((host, 0))
        blackhole.listen(0)
        portNumber = blackhole.getsockname()[1]
        filler = socket.socket()
        filler.connect((host, portNumber))
        cleanup.append(blackhole.close)
        cleanup.append(filler.close)
        timeout = 0.3
    else:
        port = reactor.listenTCP(0, serverFactory, interface=host)
        portNumber = port.getHost().port
        cleanup.append(port.stopListening)
    reactor.connectTCP(host, portNumber, Factory(), timeout=timeout)
    return done


def main() -> None:
    """Run every scenario on Twisted's reactor; print the traces as JSON."""
    from twisted.internet import defer, protocol, reactor
    from twisted.python import log

    log.startLogging(open("/dev/null", "w"), setStdout=False)  # noqa: SIM115
    results: dict[str, list[str]] = {}

    names = sys.argv[1:] or SCENARIOS

    def runAll() -> Any:
        for scenario in names:
            results[scenario] = yield runScenario(scenario, reactor, protocol, defer)

    d = defer.inlineCallbacks(runAll)()
    d.addBoth(lambda r: (reactor.stop(), r)[1])
    failures: list[Any] = []
    d.addErrback(failures.append)
    reactor.run()
    if failures:
        sys.stderr.write(failures[0].getTraceback())
        sys.exit(1)
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
