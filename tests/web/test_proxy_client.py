"""ProxyClient on a StringTransport: Twisted's per-header hook and the dict path."""

from __future__ import annotations

from typing import Any

from tests.web.helpers import HeldRequest, makeChannel
from torsion.internet.testing import StringTransport
from torsion.web import proxy

RESPONSE = (
    b"HTTP/1.1 200 Fine\r\nServer: origin\r\nConnection: keep-alive\r\n"
    b"X-Twice: a\r\nX-Twice: b\r\nContent-Length: 2\r\n\r\nok"
)


def relay(clientClass: Any) -> tuple[Any, bytes]:
    """Send RESPONSE through a ``clientClass`` answering a held request."""
    HeldRequest.held.clear()
    channel, transport, _ = makeChannel(HeldRequest)
    channel.dataReceived(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    father = HeldRequest.held.pop()
    client = clientClass(b"GET", b"/x", b"HTTP/1.1", {b"host": b"h"}, b"", father)
    client.makeConnection(StringTransport())
    client.dataReceived(RESPONSE)
    return client, transport.value()


def test_default_client_moves_the_headers_without_hop_by_hop() -> None:
    client, sent = relay(proxy.ProxyClient)
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 Fine\r\n")
    assert b"Server: origin\r\n" in head + b"\r\n"
    assert b"X-Twice: a\r\nX-Twice: b" in head
    assert b"keep-alive" not in head
    assert body == b"ok"


def test_overridden_handleHeader_sees_every_field_in_order() -> None:
    seen: list[tuple[bytes, bytes]] = []

    class Watching(proxy.ProxyClient):
        def handleHeader(self, key: bytes, value: bytes) -> None:
            seen.append((key, value))
            super().handleHeader(key, value)

    assert Watching._plainHeaders is False
    assert proxy.ProxyClient._plainHeaders is True
    _, sent = relay(Watching)
    assert seen == [
        (b"Server", b"origin"),
        (b"X-Twice", b"a"),
        (b"X-Twice", b"b"),
        (b"Content-Length", b"2"),
    ]
    assert sent.endswith(b"\r\n\r\nok")
    assert b"X-Twice: a\r\nX-Twice: b" in sent


def test_overridden_body_and_end_hooks_are_called() -> None:
    calls: list[Any] = []

    class Watching(proxy.ProxyClient):
        def handleEndHeaders(self) -> None:
            calls.append("end headers")

        def handleResponsePart(self, buffer: bytes) -> None:
            calls.append(buffer)
            super().handleResponsePart(buffer)

    assert Watching._endHook is True
    assert proxy.ProxyClient._endHook is False
    _, sent = relay(Watching)
    assert calls == ["end headers", b"ok"]
    assert sent.endswith(b"\r\n\r\nok")


def test_subclass_defining_bodyReceived_keeps_it() -> None:
    seen: list[bytes] = []

    class Own(proxy.ProxyClient):
        def bodyReceived(self, data: bytes) -> None:
            seen.append(data)
            self.handleResponsePart(data)

    _, sent = relay(Own)
    assert seen == [b"ok"]
    assert sent.endswith(b"\r\n\r\nok")
