"""How Request.write hands a response to the channel: head and first piece together."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.helpers import HeldRequest, makeChannel
from torsion.internet.testing import StringTransport
from torsion.web import http, proxy


class CountingTransport(StringTransport):
    """A StringTransport that also keeps each write separately."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)


def held(channel: http.HTTPChannel, request: bytes = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n") -> Any:
    """Connect ``channel`` to a CountingTransport, send ``request``; the held request."""
    HeldRequest.held.clear()
    channel.requestFactory = HeldRequest
    transport = CountingTransport()
    channel.makeConnection(transport)
    channel.dataReceived(request)
    return HeldRequest.held.pop(), transport


def test_head_and_first_piece_go_out_in_one_write() -> None:
    req, transport = held(http.HTTPChannel())
    req.setHeader(b"content-length", b"5")
    req.write(b"abc")
    req.write(b"de")
    req.finish()
    assert len(transport.writes) == 2
    first, second = transport.writes
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert first.endswith(b"\r\nContent-Length: 5\r\n\r\nabc")
    assert second == b"de"
    assert req.sentLength == 5


def test_chunked_first_piece_is_framed_in_the_same_write() -> None:
    req, transport = held(http.HTTPChannel())
    req.write(b"abc")
    req.finish()
    assert transport.writes[0].endswith(b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert transport.writes[1:] == [b"0\r\n\r\n"]


def test_empty_first_write_sends_only_the_head() -> None:
    req, transport = held(http.HTTPChannel())
    req.setHeader(b"content-length", b"2")
    req.write(b"")
    assert transport.writes == [transport.value()]
    assert transport.value().endswith(b"Content-Length: 2\r\n\r\n")
    req.write(b"ok")
    req.finish()
    assert transport.writes[-1] == b"ok"


@pytest.mark.parametrize("request_", [b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"])
def test_bodiless_response_sends_the_head_only(request_: bytes) -> None:
    req, transport = held(http.HTTPChannel(), request_)
    req.setHeader(b"content-length", b"3")
    req.write(b"abc")
    req.write(b"more")
    req.finish()
    assert transport.value().endswith(b"Content-Length: 3\r\n\r\n")
    assert b"abc" not in transport.value()


def test_overridden_writeHeaders_is_called_then_the_body() -> None:
    calls: list[tuple[bytes, bytes, bytes]] = []

    class Watching(http.HTTPChannel):
        def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
            calls.append((version, code, reason))
            super().writeHeaders(version, code, reason, headers)

    assert Watching._plainHead is False
    assert http.HTTPChannel._plainHead is True
    req, transport = held(Watching())
    req.setHeader(b"content-length", b"3")
    req.write(b"abc")
    req.finish()
    assert calls == [(b"HTTP/1.1", b"200", b"OK")]
    assert transport.writes[-1] == b"abc"
    assert transport.value().endswith(b"Content-Length: 3\r\n\r\nabc")


@pytest.mark.parametrize(("code", "line"), [(299, b"299"), (999, b"999"), (1000, b"1000")])
def test_any_status_code_is_written_as_given(code: int, line: bytes) -> None:
    req, transport = held(http.HTTPChannel())
    req.setResponseCode(code, b"Odd")
    req.setHeader(b"content-length", b"0")
    req.finish()
    assert transport.value().startswith(b"HTTP/1.1 " + line + b" Odd\r\n")


@pytest.mark.parametrize("status", [b"200", b"299", b"599", b"799"])
def test_proxy_client_passes_any_upstream_status(status: bytes) -> None:
    HeldRequest.held.clear()
    channel, transport, _ = makeChannel(HeldRequest)
    channel.dataReceived(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    father = HeldRequest.held.pop()
    codes: list[bytes] = []

    class Watching(proxy.ProxyClient):
        def handleStatus(self, version: bytes, code: bytes, message: bytes) -> None:
            codes.append(code)
            super().handleStatus(version, code, message)

    client = Watching(b"GET", b"/x", b"HTTP/1.1", {b"host": b"h"}, b"", father)
    client.makeConnection(StringTransport())
    client.dataReceived(b"HTTP/1.1 " + status + b" Why\r\nContent-Length: 2\r\n\r\nok")
    assert codes == [status]
    assert father.code == int(status)
    assert transport.value().startswith(b"HTTP/1.1 " + status + b" Why\r\n")
