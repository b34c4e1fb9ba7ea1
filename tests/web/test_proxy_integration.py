"""The proxy on loopback with real curl and real origins, on both event loops."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import runUntil
from tests.web.proxyenv import Env, WebSocketEcho, runProcess
from torsion.web import proxy

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "curl"], capture_output=True).returncode != 0,
    reason="curl is not installed",
)


@pytest.fixture
def env(reactor: Any) -> Iterator[Env]:
    e = Env(reactor)
    try:
        yield e
    finally:
        e.close()


def test_get(env: Env) -> None:
    """curl -x GET goes through the proxy; Via is added; access log records it."""
    code, out, err = env.curl("-i", env.url(0, "/hello?x=1"))
    assert code == 0, err
    assert b"origin 1 says hi to /hello?x=1" in out
    assert b"Via: 1.1 torsion" in out
    method, uri, headers = env.origins[0].seen[0]
    assert (method, uri) == (b"GET", b"/hello?x=1")
    assert headers.getRawHeaders(b"via") == [b"1.1 torsion"]
    assert not headers.hasHeader(b"proxy-connection")
    assert env.access and " GET http://127.0.0.1:" in env.access[0] and " 200 " in env.access[0]


def test_head(env: Env) -> None:
    """HEAD returns the origin's headers and no body."""
    code, out, err = env.curl("-I", env.url(0, "/h"))
    assert code == 0, err
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: " in out
    assert out.endswith(b"\r\n\r\n")


def test_postWithBody(env: Env) -> None:
    """A POST body reaches the origin intact."""
    code, out, err = env.curl("--data-binary", "a=1&b=2", env.url(0, "/echo"))
    assert code == 0, err
    assert out == b"a=1&b=2"


def test_chunkedUpload(env: Env, tmp_path: Path) -> None:
    """A chunked upload is streamed upstream chunked and arrives whole."""
    body = os.urandom(300_000)
    src = tmp_path / "body"
    src.write_bytes(body)
    code, out, err = env.curl(
        "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{src}", env.url(1, "/echo")
    )
    assert code == 0, err
    assert out == body
    headers = env.origins[1].seen[0][2]
    assert headers.getRawHeaders(b"transfer-encoding") == [b"chunked"]
    assert not headers.hasHeader(b"content-length")


def test_keepAliveRoutesEachRequest(env: Env) -> None:
    """Two requests to two origins on one client connection reach the right origins."""
    code, out, err = env.curl(
        "-w", "[%{num_connects}]", env.url(0, "/a"), env.url(1, "/b"), env.url(0, "/c")
    )
    assert code == 0, err
    assert b"origin 1 says hi to /a" in out
    assert b"origin 2 says hi to /b" in out
    assert b"origin 1 says hi to /c" in out
    assert out.count(b"[1]") == 1 and out.count(b"[0]") == 2  # one client connection
    assert [s[1] for s in env.origins[0].seen] == [b"/a", b"/c"]
    assert env.origins[0].connections == 1  # the upstream connection was reused


def test_pipeliningOrder(env: Env) -> None:
    """Pipelined requests to different origins are answered in request order."""
    reqs = b"".join(
        b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % env.url(n, f"/p{i}").encode()
        for i, n in enumerate([1, 0, 1, 0])
    )
    out = env.raw(
        reqs + b"GET " + env.url(0, "/last").encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n"
    )
    positions = [out.index(b"to /p%d" % i) for i in range(4)] + [out.index(b"to /last")]
    assert positions == sorted(positions)
    assert out.count(b"HTTP/1.1 200 OK") == 5


def test_download100MiB_memoryBounded(reactor: Any, tmp_path: Path) -> None:
    """100 MiB streams through a proxy process whose peak RSS stays bounded."""
    env = Env(reactor)
    proc = subprocess.Popen(
        [sys.executable, "-m", "torsion", "proxy", "--listen", "tcp:0:interface=127.0.0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        port = int(line.rsplit(":", 1)[1])
        before = _rss(proc.pid)
        size = 100 * 1024 * 1024
        d = runProcess(
            reactor,
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-x",
            f"http://127.0.0.1:{port}",
            env.url(0, f"/big?n={size}"),
        )
        code, out, err = runUntil(reactor, d, 60)
        assert code == 0, err
        assert int(out) == size
        peak = _peak(proc.pid)
        assert peak - before < 40 * 1024, f"proxy grew from {before} KiB to a peak of {peak} KiB"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
        env.close()


def _rss(pid: int) -> int:
    return _status(pid, "VmRSS:")


def _peak(pid: int) -> int:
    return _status(pid, "VmHWM:")


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise AssertionError(key)


@pytest.mark.tls
def test_connectToTLS(reactor: Any, tmp_path: Path) -> None:
    """CONNECT tunnels curl to a local TLS server (certificate made with openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
    )
    assert made.returncode == 0, made.stderr
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))

    class Hello(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if b"\r\n\r\n" in data:
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")

    loop = reactor.loop
    server = loop.run_until_complete(loop.create_server(Hello, "127.0.0.1", 0, ssl=ctx))
    tlsPort = server.sockets[0].getsockname()[1]
    env = Env(reactor, proxy.ProxyPolicy(connectPorts=frozenset({tlsPort})))
    env.extra.append(server)
    try:
        code, out, err = env.curl("--cacert", str(cert), f"https://localhost:{tlsPort}/")
        assert code == 0, err
        assert out == b"secret"
        # A port that is not allowed is refused with 403.
        code, out, err = env.curl(
            "-o",
            "/dev/null",
            "-w",
            "%{http_connect}",
            f"https://localhost:{env.ports[0].getHost().port}/",
        )
        assert out == b"403"
    finally:
        env.close()
        loop.run_until_complete(server.wait_closed())


def test_websocketUpgradeEcho(reactor: Any) -> None:
    """A WebSocket upgrade passes through; frames are echoed end to end."""
    loop = reactor.loop
    server = loop.run_until_complete(loop.create_server(WebSocketEcho, "127.0.0.1", 0))
    wsPort = server.sockets[0].getsockname()[1]
    env = Env(reactor)
    env.extra.append(server)
    try:
        frame = bytes([0x81, 0x85, 1, 2, 3, 4]) + bytes(
            b ^ m for b, m in zip(b"hello", b"\x01\x02\x03\x04" * 2, strict=False)
        )  # noqa: E501
        head = (
            f"GET http://127.0.0.1:{wsPort}/ws HTTP/1.1\r\nHost: 127.0.0.1:{wsPort}\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ).encode()
        out = _exchange(reactor, env, head, frame)
        assert out.startswith(b"HTTP/1.1 101 Switching Protocols")
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in out
        assert out.endswith(frame)
    finally:
        env.close()
        server.close()
        loop.run_until_complete(server.wait_closed())


def _exchange(reactor: Any, env: Env, head: bytes, frame: bytes) -> bytes:
    from torsion.internet import protocol
    from torsion.internet.defer import Deferred

    d: Deferred[bytes] = Deferred()

    class WS(protocol.Protocol):
        buf = b""

        def connectionMade(self) -> None:
            self.transport.write(head)

        def dataReceived(self, data: bytes) -> None:
            self.buf += data
            if b"\r\n\r\n" in self.buf and not getattr(self, "sent", False):
                self.sent = True
                self.transport.write(frame)
            if self.buf.endswith(frame):
                self.transport.loseConnection()

        def connectionLost(self, reason: Any = None) -> None:
            d.callback(self.buf)

    reactor.connectTCP(
        "127.0.0.1", env.proxyPort.getHost().port, protocol.ClientFactory.forProtocol(WS)
    )
    return runUntil(reactor, d, 10)


def test_badGateway(env: Env) -> None:
    """An unreachable upstream gives 502 with a short body."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, out, err = env.curl("-i", f"http://127.0.0.1:{port}/")
    assert out.startswith(b"HTTP/1.1 502 Bad Gateway")
    assert out.endswith(b"502 Bad Gateway\n")


def test_gatewayTimeout(reactor: Any) -> None:
    """An upstream that never answers gives 504 after the upstream timeout."""
    env = Env(reactor, proxy.ProxyPolicy(upstreamTimeout=0.3))
    try:
        code, out, err = env.curl("-i", env.url(0, "/slow"))
        assert out.startswith(b"HTTP/1.1 504 ")
    finally:
        env.close()


def test_proxyAuth407Flow(reactor: Any) -> None:
    """Without credentials: 407 with Proxy-Authenticate; with them: 200; never forwarded."""
    env = Env(reactor, proxy.ProxyPolicy(credentials={"alice": "s3cret"}))
    try:
        code, out, err = env.curl("-i", env.url(0, "/a"))
        assert out.startswith(b"HTTP/1.1 407 ")
        assert b'Proxy-Authenticate: Basic realm="torsion"' in out
        code, out, err = env.curl("-i", "-U", "alice:wrong", env.url(0, "/a"))
        assert out.startswith(b"HTTP/1.1 407 ")
        code, out, err = env.curl("-i", "-U", "alice:s3cret", env.url(0, "/a"))
        assert out.startswith(b"HTTP/1.1 200 ")
        assert not env.origins[0].seen[0][2].hasHeader(b"proxy-authorization")
    finally:
        env.close()


def test_deniedClient(reactor: Any) -> None:
    """A client outside the allow list gets 403 and nothing reaches the origin."""
    env = Env(reactor, proxy.ProxyPolicy(allow=("10.0.0.0/8",)))
    try:
        code, out, err = env.curl("-i", env.url(0, "/a"))
        assert out.startswith(b"HTTP/1.1 403 ")
        assert env.origins[0].seen == []
    finally:
        env.close()


def test_simpleproxyExample(reactor: Any) -> None:
    """Twisted's classic simpleproxy program, imports renamed, proxies curl requests."""
    env = Env(reactor)
    example = Path(__file__).parents[2] / "examples" / "simpleproxy.py"
    proc = subprocess.Popen(
        [sys.executable, str(example), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if "starting on" in line:
                port = int(line.rsplit(" ", 1)[1])
                break
        assert port is not None
        d = runProcess(
            reactor, "curl", "-sS", "-x", f"http://127.0.0.1:{port}", env.url(0, "/twisted")
        )  # noqa: E501
        code, out, err = runUntil(reactor, d, 20)
        assert code == 0, err
        assert out == b"origin 1 says hi to /twisted\n"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
        env.close()
