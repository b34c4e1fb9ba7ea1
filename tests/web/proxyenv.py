"""Loopback fixtures for proxy integration tests: origins, a proxy, curl, raw clients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from tests.support import runUntil
from torsion.internet import protocol
from torsion.internet.defer import Deferred
from torsion.web import http, proxy


class OriginRequest(http.Request):
    """/small, /echo (body), /big?n=N (streamed), /slow (never answers), /close."""

    def process(self) -> None:
        origin = self.channel.factory
        origin.seen.append((self.method, self.uri, self.requestHeaders.copy()))
        path = self.path
        if path == b"/slow":
            return
        if path == b"/big":
            self._stream(int(self.args[b"n"][0]))
            return
        if path == b"/echo":
            assert self.content is not None
            body = self.content.read()
        else:
            body = b"origin %d says hi to %s\n" % (origin.number, self.uri)
        self.setHeader(b"content-length", b"%d" % len(body))
        self.setHeader(b"x-origin", b"%d" % origin.number)
        self.write(body)
        self.finish()

    def _stream(self, total: int) -> None:
        request = self
        chunk = b"x" * 65536

        class Producer:
            left = total

            def resumeProducing(self) -> None:
                n = min(self.left, len(chunk))
                self.left -= n
                request.write(chunk[:n])
                if not self.left:
                    request.unregisterProducer()
                    request.finish()

            def stopProducing(self) -> None:
                self.left = 0

        self.setHeader(b"content-length", b"%d" % total)
        self.registerProducer(Producer(), False)


class OriginChannel(http.HTTPChannel):
    requestFactory = OriginRequest


class Origin(http.HTTPFactory):
    protocol = OriginChannel

    def __init__(self, reactor: Any, number: int) -> None:
        super().__init__(reactor=reactor)
        self.number = number
        self.seen: list[Any] = []
        self.connections = 0

    def buildProtocol(self, addr: Any) -> Any:
        self.connections += 1
        return super().buildProtocol(addr)


class ProxyFactory(http.HTTPFactory):
    protocol = proxy.Proxy


class Env:
    """Two origins and a proxy on loopback, torn down cleanly."""

    def __init__(self, reactor: Any, policy: proxy.ProxyPolicy | None = None) -> None:
        self.reactor = reactor
        self.origins = [Origin(reactor, 1), Origin(reactor, 2)]
        self.ports = [reactor.listenTCP(0, o, interface="127.0.0.1") for o in self.origins]
        self.proxyFactory = ProxyFactory(reactor=reactor)
        self.access: list[str] = []
        self.proxyFactory.proxyPolicy = policy or proxy.ProxyPolicy(accessLog=self.access.append)
        self.proxyPort = reactor.listenTCP(0, self.proxyFactory, interface="127.0.0.1")
        self.ports.append(self.proxyPort)
        self.extra: list[Any] = []

    def url(self, n: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[n].getHost().port}{path}"

    @property
    def proxyURL(self) -> str:
        return f"http://127.0.0.1:{self.proxyPort.getHost().port}"

    def curl(self, *args: str, timeout: float = 20.0) -> tuple[int, bytes, bytes]:
        return runUntil(
            self.reactor,
            runProcess(self.reactor, "curl", "-sS", "-x", self.proxyURL, *args),  # noqa: E501
            timeout,
        )

    def raw(self, data: bytes, timeout: float = 10.0) -> bytes:
        """Send ``data`` to the proxy on a raw connection; return all it answers."""
        d: Deferred[bytes] = Deferred()
        factory = protocol.ClientFactory.forProtocol(lambda: RawClient(data, d))
        self.reactor.connectTCP("127.0.0.1", self.proxyPort.getHost().port, factory)
        return runUntil(self.reactor, d, timeout)

    def close(self) -> None:
        pool = getattr(self.proxyFactory, "_proxyPool", None)
        if pool is not None:
            pool.closeAll()
        for p in self.ports:
            p.stopListening()
        for server in self.extra:
            server.close()
        waitUntilClosed(self.reactor)


class _WatchedConnections(set[Any]):
    """The reactor's set of open connections, firing ``empty`` when it empties."""

    def __init__(self, connections: set[Any], empty: Deferred[None]) -> None:
        super().__init__(connections)
        self.empty = empty

    def discard(self, conn: Any) -> None:
        super().discard(conn)
        if not self and not self.empty.called:
            self.empty.callback(None)


def waitUntilClosed(reactor: Any, timeout: float = 5.0) -> None:
    """Run the loop until every connection of ``reactor`` has closed.

    Fails, naming the connections still open, after ``timeout`` seconds: a
    test that leaves one open (a leak) is caught here, not by a later test.
    """
    if not reactor._connections:
        return
    empty: Deferred[None] = Deferred()
    reactor._connections = watched = _WatchedConnections(reactor._connections, empty)
    try:
        runUntil(reactor, empty, timeout)
    except TimeoutError:
        left = sorted(repr(c) for c in watched)
        raise AssertionError(f"connections still open after {timeout} s: {left}") from None
    finally:
        reactor._connections = set(watched)


class RawClient(protocol.Protocol):
    """Writes ``data`` then collects everything until the server closes."""

    def __init__(self, data: bytes, done: Deferred[bytes]) -> None:
        self.data = data
        self.done = done
        self.received: list[bytes] = []

    def connectionMade(self) -> None:
        self.transport.write(self.data)

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(b"".join(self.received))


def runProcess(reactor: Any, *argv: str) -> Deferred[tuple[int, bytes, bytes]]:
    """Run a program; fire with (exit code, stdout, stderr)."""

    async def run() -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out, err

    return Deferred.fromFuture(asyncio.ensure_future(run(), loop=reactor.loop))


def websocketAccept(key: bytes) -> bytes:
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


class WebSocketEcho(asyncio.Protocol):
    """A minimal WebSocket origin: answers the handshake, then echoes raw bytes."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            self.transport.write(data)
            return
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + websocketAccept(key) + b"\r\n\r\n"
        )
        self.upgraded = True
        if rest:
            self.transport.write(rest)
