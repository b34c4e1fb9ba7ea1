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

Every server runs in its own process (all pinned to one core when two are
available, the load generator to the other), and all of them stay up for the
whole run.  The load generator is a uvloop client keeping ``--depth``
batches in flight on each of ``--connections`` connections per server; it
checks the replies byte for byte during the warm-up.  It drives one server
at a time: a round gives each server ``--duration`` seconds, in a rotating
order, and ``--repeat`` rounds follow each other.  On a shared VM whose
speed drifts by tens of percent within seconds, this pairs every server's
figure with the others' taken seconds apart: each ratio is reported as the
median [range] of its per-round ratios, and each row as its median.

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
        self.sending = False
        self.checked = 0
        self.errors: list[str] = []


class LoadClient(asyncio.Protocol):
    """Keeps ``depth`` batches in flight while ``stats.sending``; counts replies."""

    def __init__(self, batch: bytes, depth: int, stats: Stats, check: int) -> None:
        self.batch = batch
        self.depth = depth
        self.stats = stats
        self.sent = 0  # batches
        self.received = 0  # bytes
        self.check = check  # bytes to compare against the expected reply stream
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        self.drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def start(self) -> None:
        self.sent += self.depth
        self.transport.write(self.batch * self.depth)

    def drain(self) -> asyncio.Future[None]:
        """Resolves once every batch sent has been answered (call after sending stops)."""
        self.drained = asyncio.get_running_loop().create_future()
        self._checkDrained()
        return self.drained

    def _checkDrained(self) -> None:
        drained = self.drained
        answered = self.received >= self.sent * len(self.batch)
        if drained is not None and answered and not drained.done():
            drained.set_result(None)

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
                self.sent += done
                self.transport.write(self.batch * done)
        self._checkDrained()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.drained is not None and not self.drained.done():
            self.drained.set_exception(ConnectionError("the server closed the connection"))


def cpuSeconds(pid: int) -> float:
    """User plus system CPU time consumed so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Subject:
    """One server process and the load generator's connections to it."""

    def __init__(self, kind: str, port: int, pid: int) -> None:
        self.kind, self.port, self.pid = kind, port, pid
        self.stats = Stats()
        self.clients: list[LoadClient] = []

    async def slice(self, seconds: float, warmup: float) -> tuple[float, float]:
        """Drive the server alone for ``warmup`` + ``seconds``; return (rate, rate per CPU-s)."""
        stats = self.stats
        stats.sending = True
        for client in self.clients:
            client.start()
        await asyncio.sleep(warmup)
        start, first, cpu = time.perf_counter(), stats.replies, cpuSeconds(self.pid)
        await asyncio.sleep(seconds)
        elapsed, replies = time.perf_counter() - start, stats.replies - first
        cpu = cpuSeconds(self.pid) - cpu
        stats.sending = False
        await asyncio.wait_for(asyncio.gather(*(c.drain() for c in self.clients)), 30)
        if stats.errors:
            raise RuntimeError(f"{self.kind}: {stats.errors[0]}")
        return replies / elapsed, replies / max(cpu, 1e-9)


async def _interleaved(
    subjects: list[Subject], batch: bytes, args: argparse.Namespace
) -> dict[str, list[tuple[float, float]]]:
    """Every round drives each server once, for ``args.duration`` seconds,
    in a rotating order; all servers stay up, so rounds are seconds apart."""
    loop = asyncio.get_running_loop()
    for subject in subjects:
        for _ in range(args.connections):
            _, client = await loop.create_connection(
                lambda s=subject: LoadClient(batch, args.depth, s.stats, check=len(batch) * 20),
                "127.0.0.1",
                subject.port,
            )
            subject.clients.append(client)
        await subject.slice(args.warmup, 0.0)  # warm-up (and reply check)
    rounds: dict[str, list[tuple[float, float]]] = {s.kind: [] for s in subjects}
    for n in range(args.repeat):
        order = subjects[n % len(subjects) :] + subjects[: n % len(subjects)]
        for subject in order:
            rounds[subject.kind].append(await subject.slice(args.duration, 0.1))
    for subject in subjects:
        for client in subject.clients:
            client.transport.close()
        await asyncio.gather(*(c.closed for c in subject.clients))
    return rounds


def measure(
    kinds: list[str], workload: str, args: argparse.Namespace, cpus: list[int]
) -> dict[str, list[tuple[float, float]]]:
    """Start a server process for each of ``kinds`` and drive them in turn.

    Returns:
        Per server, one (packets/s, packets per CPU-second) pair per round.
    """
    serverCpus = {cpus[0]} if len(cpus) >= 2 and args.pin else None
    paths = [os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]))

    def pin() -> None:
        if serverCpus:
            os.sched_setaffinity(0, serverCpus)

    procs: list[subprocess.Popen[bytes]] = []
    try:
        subjects = []
        for kind in kinds:
            command = [sys.executable, "-m", "bench.linereceiver", "--serve", kind]
            command += ["--workload", workload, "--lines", str(args.lines)]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, preexec_fn=pin)
            procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the {kind} server did not start")
            subjects.append(Subject(kind, int(line), proc.pid))
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(
                _interleaved(subjects, makeBatch(workload, args.lines), args)
            )
        finally:
            loop.close()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=1.0, help="seconds per server in each round"
    )
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds per server first")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--depth", type=int, default=2, help="packets in flight per connection")
    parser.add_argument("--lines", type=int, default=100, help="lines (strings) per packet")
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--server", choices=SERVERS, action="append")
    parser.add_argument(
        "--repeat",
        type=int,
        default=9,
        help="rounds (each server driven once per round, order rotating)",
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
        f"{args.depth} packets in flight; {args.repeat} rounds of {args.duration:g} s"
        " per server, medians"
        + (f"; server on CPU {cpus[0]}, load generator on CPU {cpus[1]}" if pinned else "")
    )
    print(f"  {'':6} {'server':8} {'packets/s':>10} {'items/s':>10} {'packets/CPU-s':>14}")
    for workload in args.workload or WORKLOADS:
        rounds = measure(list(args.server or SERVERS), workload, args, cpus)
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
