"""Protocols and helpers shared by the endpoint and application tests."""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure


class Recorder(protocol.Protocol):
    """Records the events it sees."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.events.append(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.events.append(reason)


def result(d: Deferred[Any]) -> Any:
    """The result a Deferred already has (a Failure for a failed one)."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, f"{d!r} has no result"
    return box[0]


class FixedResolver:
    """An IHostnameResolver answering every name with fixed addresses."""

    def __init__(self, addresses: list[Any]) -> None:
        self.addresses = addresses
        self.asked: list[tuple[str, int]] = []

    def resolveHostName(self, receiver: Any, hostName: str, portNumber: int = 0) -> None:
        self.asked.append((hostName, portNumber))
        receiver.resolutionBegan(None)
        for address in self.addresses:
            receiver.addressResolved(address)
        receiver.resolutionComplete()


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Client(protocol.Protocol):
    def __init__(self) -> None:
        self.received: Deferred[bytes] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received.callback(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost.callback(None)
