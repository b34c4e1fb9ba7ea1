"""Shared helpers for the web tests: a channel on a StringTransport and a Clock."""

from __future__ import annotations

from typing import Any

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.web import http


class EchoRequest(http.Request):
    """Answers with the method, path and body it received."""

    def process(self) -> None:
        assert self.content is not None
        body = self.method + b" " + self.uri + b" " + self.content.read()
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class HeldRequest(http.Request):
    """Waits to be finished by the test (kept in ``held``)."""

    held: list[HeldRequest] = []

    def process(self) -> None:
        HeldRequest.held.append(self)


def makeChannel(
    requestFactory: Any = EchoRequest, clock: Clock | None = None, **attrs: Any
) -> tuple[http.HTTPChannel, StringTransport, Clock]:
    clock = clock or Clock()
    channel = http.HTTPChannel()
    channel.requestFactory = requestFactory
    channel._clock = clock
    for k, v in attrs.items():
        setattr(channel, k, v)
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport, clock


def statusLines(data: bytes) -> list[bytes]:
    """Every ``HTTP/1.x NNN Reason`` status line found in ``data``."""
    import re

    return re.findall(rb"HTTP/1\.[01] \d\d\d [^\r\n]*", data)
