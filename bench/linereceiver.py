"""Line and Int32 framing servers under pipelined load: torsion vs Twisted vs raw uvloop.

Each request packet is a batch of ``--lines`` short lines (or Int32-prefixed
strings); the server answers every line with its own ``sendLine`` (or
``sendString``), i.e. one write per line.  Servers:

* ``torsion``  -- ``torsion.protocols.basic.LineReceiver`` / ``Int32StringReceiver``
  on torsion's reactor over uvloop;
* ``twisted``  -- the same protocol on Twisted's default reactor (epoll);
* ``raw``      -- the same protocol written directly as a plain uvloop
  ``asyncio.Protocol`` that writes each reply line to the transport;
* ``ceiling``  -- a uvloop protocol that answers each whole batch with one
  precomputed write and parses nothing: what the load generator can drive.

Every server runs in its own process (pinned to one core when two are
available, the load generator to the other).  The load generator is a uvloop
client keeping ``--depth`` batches in flight on each of ``--connections``
connections; it checks the replies byte for byte during the warm-up.

Run: ``python -m bench.linereceiver`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import struct
import subprocess
import sys
import time
from typing import Any

SERVERS = ("ceiling", "raw", "twisted", "torsion")
WORKLOADS = ("lines", "int32")


# -- requests -------------------------------------------------------------------


def makeBatch(workload: str, count: int) -> bytes:
    """One request packet: ``count`` short lines or Int32 strings."""
    items = [b"GET key:%06d" % i for i in range(count)]
    if workload == "lines":
        return b"".join(item + b"\r\n" for item in items)
    return b"".join(struct.pack("!I", len(item)) + item for item in items)


# -- servers (each runs in its own process) --------------------------------------


def serveTorsion(workload: str, batch: bytes) -> None:
    from torsion.internet._loops import newEventLoop
    from torsion.internet.asyncioreactor import AsyncioReactor
    from torsion.internet.protocol import Factory
    from torsion.protocols import basic

    class LineEcho(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)

    class StringEcho(basic.Int32StringReceiver):
        def stringReceived(self, string: bytes) -> None:
            self.sendString(string)

    reactor = AsyncioReactor(newEventLoop("uvloop"))
    factory = Factory.forProtocol(LineEcho if workload == "lines" else StringEcho)
    factory.noisy = False
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    _announce(port.getHost().port)
    reactor.run()


def serveTwisted(workload: str, batch: bytes) -> None:
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory
    from twisted.protocols import basic

    class LineEcho(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)

    class StringEcho(basic.Int32StringReceiver):
        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)

        def stringReceived(self, string: bytes) -> None:
            self.sendString(string)

    factory = Factory.forProtocol(LineEcho if workload == "lines" else StringEcho)
    factory.noisy = False
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
    _announce(port.getHost().port)
    reactor.run()  # type: ignore[attr-defined]


class RawLineEcho(asyncio.Protocol):
    """A line echo written directly on asyncio: one transport.write per line."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        lines = (self.buffer + data).split(b"\r\n")
        self.buffer = lines.pop()
        write = self.transport.write
        for line in lines:
            write(line + b"\r\n")


class RawStringEcho(asyncio.Protocol):
    """An Int32 string echo written directly on asyncio: one write per string."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data
        offset = 0
        unpack = struct.unpack_from
        pack = struct.pack
        write = self.transport.write
        while len(buf) - offset >= 4:
            (length,) = unpack("!I", buf, offset)
            end = offset + 4 + length
            if len(buf) < end:
                break
            string = buf[offset + 4 : end]
            write(pack("!I", len(string)) + string)
            offset = end
        self.buffer = buf[offset:]


class Ceiling(asyncio.Protocol):
    """Answers each whole batch with one write and parses nothing."""

    def __init__(self, batch: bytes) -> None:
        self.batch = batch
        self.pending = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        n, self.pending = divmod(self.pending, len(self.batch))
        if n:
            self.transport.write(self.batch * n)


def serveAsyncio(kind: str, workload: str, batch: bytes) -> None:
    import uvloop

    loop = uvloop.new_event_loop()
    if kind == "ceiling":

        def factory() -> asyncio.Protocol:
            return Ceiling(batch)

    else:
        factory = RawLineEcho if workload == "lines" else RawStringEcho
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    _announce(server.sockets[0].getsockname()[1])
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()


def _announce(port: int) -> None:
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()


def serve(kind: str, workload: str, lines: int) -> None:
    """Run one server until SIGTERM (the entry point of the server process)."""
    batch = makeBatch(workload, lines)
    if kind == "torsion":
        serveTorsion(workload, batch)
    elif kind == "twisted":
        serveTwisted(workload, batch)
    else:
        serveAsyncio(kind, workload, batch)


# -- the load generator ------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.replies = 0
        self.sending = True
        self.checked = 0
        self.errors: list[str] = []


class LoadClient(asyncio.Protocol):
    """Keeps ``depth`` batches in flight; counts complete replies."""

    def __init__(self, batch: bytes, depth: int, stats: Stats, check: int) -> None:
        self.batch = batch
        self.depth = depth
        self.stats = stats
        self.received = 0
        self.check = check  # bytes to compare against the expected reply stream
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.batch * self.depth)

    def data_received(self, data: bytes) -> None:
        size = len(self.batch)
        if self.check > 0:
            offset = self.received % size
            expected = (self.batch * (2 + len(data) // size))[offset : offset + len(data)]
            if data != expected:
                self.stats.errors.append(f"unexpected reply bytes at {self.received}")
            self.check -= len(data)
            self.stats.checked += len(data)
        before = self.received // size
        self.received += len(data)
        done = self.received // size - before
        if done:
            self.stats.replies += done
            if self.stats.sending:
                self.transport.write(self.batch * done)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def cpuSeconds(pid: int) -> float:
    """User plus system CPU time consumed so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    port: int,
    batch: bytes,
    connections: int,
    depth: int,
    warmup: float,
    duration: float,
    serverPid: int,
) -> tuple[float, float, Stats]:
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: LoadClient(batch, depth, stats, check=len(batch) * 20), "127.0.0.1", port
        )
        clients.append(client)
    await asyncio.sleep(warmup)
    start, first, cpu = time.perf_counter(), stats.replies, cpuSeconds(serverPid)
    await asyncio.sleep(duration)
    elapsed, replies = time.perf_counter() - start, stats.replies - first
    cpu = cpuSeconds(serverPid) - cpu
    stats.sending = False
    for client in clients:
        client.transport.close()
    await asyncio.gather(*(c.closed for c in clients))
    return replies / elapsed, replies / max(cpu, 1e-9), stats


def measure(
    kind: str, workload: str, args: argparse.Namespace, cpus: list[int]
) -> tuple[float, float]:
    """Start the ``kind`` server and drive it.

    Returns:
        Packets answered per second, and per second of the server's CPU time.
    """
    serverCpus = {cpus[0]} if len(cpus) >= 2 and args.pin else None
    command = [sys.executable, "-m", "bench.linereceiver", "--serve", kind]
    command += ["--workload", workload, "--lines", str(args.lines)]
    paths = [os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]))

    def pin() -> None:
        if serverCpus:
            os.sched_setaffinity(0, serverCpus)

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, preexec_fn=pin)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start")
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            rate, perCpu, stats = loop.run_until_complete(
                _load(
                    int(line),
                    makeBatch(workload, args.lines),
                    args.connections,
                    args.depth,
                    args.warmup,
                    args.duration,
                    proc.pid,
                )
            )
        finally:
            loop.close()
        if stats.errors:
            raise RuntimeError(f"{kind}: {stats.errors[0]}")
        return rate, perCpu
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds measured per row")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--depth", type=int, default=2, help="packets in flight per connection")
    parser.add_argument("--lines", type=int, default=100, help="lines (strings) per packet")
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--server", choices=SERVERS, action="append")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds: every server measured once per round; medians are reported,"
        " and each ratio as the median [range] of its per-round ratios",
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin CPUs")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, (args.workload or ["lines"])[0], args.lines)
        return
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2 and args.pin
    if pinned:
        os.sched_setaffinity(0, {cpus[1]})
    print(
        f"{args.lines} lines/strings per packet, {args.connections} connections x "
        f"{args.depth} packets in flight, {args.duration:g} s per row"
        + (f", median of {args.repeat} rounds" if args.repeat > 1 else "")
        + (f"; server on CPU {cpus[0]}, load generator on CPU {cpus[1]}" if pinned else "")
    )
    print(f"  {'':6} {'server':8} {'packets/s':>10} {'items/s':>10} {'packets/CPU-s':>14}")
    for workload in args.workload or WORKLOADS:
        # rounds[kind] = [(packets/s, packets/CPU-s), ...], one per round; the
        # servers run one after the other within a round, so a ratio taken
        # inside one round compares runs that were seconds apart.
        rounds: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for kind in args.server or SERVERS:
                rounds.setdefault(kind, []).append(measure(kind, workload, args, cpus))
        for kind, values in rounds.items():
            rate = statistics.median(v[0] for v in values)
            perCpu = statistics.median(v[1] for v in values)
            print(
                f"  {workload:6} {kind:8} {rate:10.0f} {rate * args.lines:10.0f} {perCpu:14.0f}",
                flush=True,
            )
        print(f"  {workload}: " + "; ".join(summarize(rounds)), flush=True)


def summarize(rounds: dict[str, list[tuple[float, float]]]) -> list[str]:
    """The ratio lines: per-round ratios, their median and range."""
    parts = []
    for other in ("twisted", "raw"):
        if "torsion" in rounds and other in rounds:
            pairs = list(zip(rounds["torsion"], rounds[other], strict=True))
            parts.append(
                f"torsion/{other} = {_spread([t[0] / o[0] for t, o in pairs])} "
                f"(per CPU-s {_spread([t[1] / o[1] for t, o in pairs])})"
            )
    servers = [k for k in rounds if k != "ceiling"]
    if "ceiling" in rounds and servers:
        best = max(statistics.median(v[0] for v in rounds[k]) for k in servers)
        ceiling = statistics.median(v[0] for v in rounds["ceiling"])
        parts.append(f"load generator ceiling = {ceiling / best:.1f}x the fastest")
    return parts


def _spread(values: list[float]) -> str:
    text = f"{statistics.median(values):.2f}x"
    if len(values) > 1:
        text += f" [{min(values):.2f}-{max(values):.2f}]"
    return text


if __name__ == "__main__":
    main()
