"""The Python echo servers of the echo benchmark, one per process.

Run as ``python -m bench.servers KIND``; KIND is one of :data:`KINDS`.  The
server listens on two ephemeral ports on 127.0.0.1 and prints
``PORTS <echo> <lines>``:

* on the first port each protocol writes every chunk it receives straight
  back (vmbench's echo server: ``transport.write(data)``);
* on the second it splits what it receives into ``\\n``-terminated lines and
  writes each line back with its own ``write`` call (a LineReceiver-style
  echo): the many-small-writes workload.

Every server sets TCP_NODELAY (as vmbench's servers do) and a listen
backlog of 1024, raises RLIMIT_NOFILE to its hard limit, and serves until it
is terminated.  The protocol code is the same few lines for every kind; only
the framework under it changes.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import socket
import sys
from typing import Any

KINDS = ("torsion-uvloop", "torsion-asyncio", "raw-uvloop", "raw-asyncio", "twisted")

BACKLOG = 1024


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _announce(echo_port: int, lines_port: int) -> None:
    print(f"PORTS {echo_port} {lines_port}", flush=True)


# -- torsion -----------------------------------------------------------------


def serve_torsion(loop_name: str) -> None:
    """torsion's reactor on the named loop, Twisted-style Echo protocols."""
    from torsion.internet import protocol
    from torsion.internet._loops import newEventLoop
    from torsion.internet.asyncioreactor import AsyncioReactor

    class Echo(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class LineEcho(protocol.Protocol):
        _buf = b""

        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def dataReceived(self, data: bytes) -> None:
            lines = (self._buf + data).split(b"\n")
            self._buf = lines.pop()
            write = self.transport.write
            for line in lines:
                write(line + b"\n")

    reactor = AsyncioReactor(newEventLoop(loop_name))
    echo = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), BACKLOG, "127.0.0.1")
    lines = reactor.listenTCP(0, protocol.Factory.forProtocol(LineEcho), BACKLOG, "127.0.0.1")
    _announce(echo.getHost().port, lines.getHost().port)
    reactor.run()


# -- raw asyncio.Protocol --------------------------------------------------------


class RawEcho(asyncio.Protocol):
    """vmbench's asyncio echo protocol."""

    transport: Any

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class RawLineEcho(RawEcho):
    """One ``transport.write`` per line."""

    _buf = b""

    def data_received(self, data: bytes) -> None:
        lines = (self._buf + data).split(b"\n")
        self._buf = lines.pop()
        write = self.transport.write
        for line in lines:
            write(line + b"\n")


def serve_raw(loop_name: str) -> None:
    """A bare ``asyncio.Protocol`` echo on the named loop."""
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def start() -> tuple[int, int]:
        echo = await loop.create_server(RawEcho, "127.0.0.1", 0, backlog=BACKLOG)
        lines = await loop.create_server(RawLineEcho, "127.0.0.1", 0, backlog=BACKLOG)
        return echo.sockets[0].getsockname()[1], lines.sockets[0].getsockname()[1]

    ports = loop.run_until_complete(start())
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    _announce(*ports)
    loop.run_forever()


# -- Twisted --------------------------------------------------------------------


def serve_twisted() -> None:
    """Twisted's epoll reactor (its default on Linux) with the same protocols."""
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import protocol, reactor

    class Echo(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class LineEcho(protocol.Protocol):
        _buf = b""

        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def dataReceived(self, data: bytes) -> None:
            lines = (self._buf + data).split(b"\n")
            self._buf = lines.pop()
            write = self.transport.write
            for line in lines:
                write(line + b"\n")

    r: Any = reactor
    echo = r.listenTCP(0, protocol.Factory.forProtocol(Echo), BACKLOG, "127.0.0.1")
    lines = r.listenTCP(0, protocol.Factory.forProtocol(LineEcho), BACKLOG, "127.0.0.1")
    _announce(echo.getHost().port, lines.getHost().port)
    r.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    args = parser.parse_args(argv)
    _raise_nofile()
    kind = args.kind
    if kind.startswith("torsion-"):
        serve_torsion(kind.split("-", 1)[1])
    elif kind.startswith("raw-"):
        serve_raw(kind.split("-", 1)[1])
    else:
        serve_twisted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
