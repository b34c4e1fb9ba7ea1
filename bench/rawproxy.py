"""The floor for ``bench.proxy_instructions``: a bare forward proxy on uvloop + httptools.

Not a product and not safe: it does only what one proxied keep-alive GET
needs (parse the request with httptools, drop hop-by-hop headers, add
``Via``, send it on one upstream connection per client connection, parse
the response, relay head and body).  No policy, no limits, no errors, no
bodies upstream, no pooling across clients.  Counting its instructions per
request shows what the event loop and the parser cost by themselves, so the
rest of torsion's figure is the cost of its own layers.

Run: ``python -m bench.rawproxy [PORT]`` (prints ``listening on 127.0.0.1:PORT``).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import httptools

_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)


class Upstream(asyncio.Protocol):
    """One upstream connection, owned by one client connection."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.lines: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.client.upstreamReady(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.lines = []

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _DROP:
            self.lines.append(name.title() + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        status = b"HTTP/1.1 %d OK\r\n" % self.parser.get_status_code()
        self.client.transport.write(status + b"".join(self.lines) + b"Via: 1.1 raw\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.client.transport.write(body)


class Client(asyncio.Protocol):
    """One client connection."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.upstream: Upstream | None = None
        self.waiting = b""
        self.transport: Any = None
        self.url = b""
        self.host = b""
        self.lines: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url = b""
        self.lines = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _DROP:
            self.lines.append(name.title() + b": " + value + b"\r\n")
        elif name == b"host":
            self.host = value

    def on_headers_complete(self) -> None:
        url = httptools.parse_url(self.url)
        head = (
            self.parser.get_method()
            + b" "
            + (url.path or b"/")
            + b" HTTP/1.1\r\nHost: "
            + self.host
            + b"\r\n"
            + b"".join(self.lines)
            + b"Via: 1.1 raw\r\n\r\n"
        )
        if self.upstream is not None:
            self.upstream.transport.write(head)
            return
        self.waiting = head
        loop = asyncio.get_running_loop()
        host = (url.host or b"").decode("ascii")
        loop.create_task(loop.create_connection(lambda: Upstream(self), host, url.port or 80))

    def upstreamReady(self, upstream: Upstream) -> None:
        self.upstream = upstream
        upstream.transport.write(self.waiting)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.transport.close()


def main() -> None:
    import uvloop

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    loop = uvloop.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Client, "127.0.0.1", port))
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()
    loop.close()


if __name__ == "__main__":
    main()
