"""TLS echo throughput: torsion vs Twisted vs a raw uvloop protocol, in one run.

    python -m bench.tls_echo [--seconds 3] [--warmup 1] [--connections 8] [--size 10240]

Each server runs in its own process and echoes over TLS (TLS 1.3, a P-256
certificate made for the run with ``openssl req``):

* ``native``  -- ``bench/tls_echo.c`` in server mode (C, OpenSSL, a thread per
  connection): the ceiling, showing what the load generator can reach;
* ``raw-uvloop`` -- an ``asyncio.Protocol`` echo on uvloop, ``create_server(ssl=)``;
* ``raw-buffered`` -- the same as an ``asyncio.BufferedProtocol`` (uvloop's TLS
  layer then decrypts into the protocol's buffer, as it does for torsion);
* ``torsion`` -- ``reactor.listenSSL`` with an echo ``Protocol`` on uvloop;
* ``twisted`` -- Twisted's default reactor, ``listenSSL`` (pyOpenSSL memory BIO).

The load generator is ``bench/tls_echo.c`` in client mode: one thread per
connection doing blocking ping-pong of ``--size`` byte messages.  With two
or more cores, servers are pinned to one core and the client to another.
The table shows requests/s, the server's and the client's CPU use in the
measured window (a server near 100% and a client below it means the server
is the bottleneck) and requests per second of server CPU, which is what
to compare on a busy machine where a server may not get a whole core.
With ``--rounds N`` every server runs N times, interleaved, and the median
round counts; each ratio also shows the median [range] of the per-round
ratios of requests per server CPU-second (rounds are seconds apart).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUILD = BENCH / "build"

SERVERS = {
    "raw-uvloop": """
        import asyncio, ssl, sys, uvloop

        class Echo(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.transport.write(data)

        async def main():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(sys.argv[1], sys.argv[2])
            server = await asyncio.get_running_loop().create_server(
                Echo, "127.0.0.1", 0, ssl=ctx)
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.Event().wait()

        uvloop.run(main())
    """,
    "raw-buffered": """
        import asyncio, ssl, sys, uvloop

        class Echo(asyncio.BufferedProtocol):
            def connection_made(self, transport):
                self.transport = transport
                self.buf = bytearray(65536)

            def get_buffer(self, sizehint):
                return self.buf

            def buffer_updated(self, n):
                self.transport.write(bytes(self.buf[:n]))

        async def main():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(sys.argv[1], sys.argv[2])
            server = await asyncio.get_running_loop().create_server(
                Echo, "127.0.0.1", 0, ssl=ctx)
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.Event().wait()

        uvloop.run(main())
    """,
    "torsion": """
        import ssl, sys
        sys.path.insert(0, {src!r})
        from torsion.internet._loops import newEventLoop
        from torsion.internet.asyncioreactor import AsyncioReactor
        from torsion.internet import protocol

        class Echo(protocol.Protocol):
            def dataReceived(self, data):
                self.transport.write(data)

        reactor = AsyncioReactor(newEventLoop("uvloop"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        port = reactor.listenSSL(0, protocol.Factory.forProtocol(Echo), ctx,
                                 interface="127.0.0.1")
        print(port.getHost().port, flush=True)
        reactor.run()
    """,
    "twisted": """
        import sys
        from twisted.internet import protocol, reactor, ssl

        class Echo(protocol.Protocol):
            def connectionMade(self):
                self.transport.setTcpNoDelay(True)  # as the other servers

            def dataReceived(self, data):
                self.transport.write(data)

        ctx = ssl.DefaultOpenSSLContextFactory(sys.argv[2], sys.argv[1])
        port = reactor.listenSSL(0, protocol.Factory.forProtocol(Echo), ctx,
                                 interface="127.0.0.1")
        print(port.getHost().port, flush=True)
        reactor.run()
    """,
}


@dataclass
class Row:
    name: str
    rps: float
    serverCpu: float
    clientCpu: float

    @property
    def perCpu(self) -> float:
        return self.rps / self.serverCpu if self.serverCpu else 0.0


def build() -> Path:
    """Compile tls_echo.c into bench/build/ unless up to date."""
    source = BENCH / "tls_echo.c"
    binary = BUILD / "tls_echo"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    BUILD.mkdir(exist_ok=True)
    cc = os.environ.get("CC", "cc")
    command = [cc, "-O2", "-Wall", "-o", str(binary), str(source), "-lssl", "-lcrypto", "-lpthread"]
    subprocess.run(command, check=True)
    return binary


def makeCertificate(directory: Path) -> tuple[str, str]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def cores() -> tuple[set[int], set[int]]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, {available[1]}


def cpuSeconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startServer(
    name: str, binary: Path, cert: str, key: str, core: set[int]
) -> subprocess.Popen[str]:
    if name == "native":
        command = [str(binary), "server", cert, key]
    else:
        code = textwrap.dedent(SERVERS[name]).replace("{src!r}", repr(str(ROOT / "src")))
        command = [sys.executable, "-c", code, cert, key]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    os.sched_setaffinity(proc.pid, core)
    return proc


def measure(name: str, args: argparse.Namespace, binary: Path, cert: str, key: str) -> Row:
    clientCore, serverCore = cores()
    server = startServer(name, binary, cert, key, serverCore)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"{name} server did not start (printed {line!r})")
        port = line.strip()
        client = subprocess.Popen(
            [
                str(binary),
                "client",
                "127.0.0.1",
                port,
                str(args.connections),
                str(args.size),
                str(args.warmup),
                str(args.seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        os.sched_setaffinity(client.pid, clientCore)
        time.sleep(args.warmup)
        cpuStart = cpuSeconds(server.pid)
        out, _ = client.communicate(timeout=args.warmup + args.seconds + 60)
        cpuEnd = cpuSeconds(server.pid)
        found = re.search(r"requests=(\d+) seconds=([\d.]+) cpu=([\d.]+)", out)
        if client.returncode != 0 or found is None:
            raise RuntimeError(f"load generator failed against {name}: {out!r}")
        requests, seconds, clientCpu = int(found[1]), float(found[2]), float(found[3])
        # The server's window starts with the client's measured window and
        # ends a little after it: a slight overestimate, never an underestimate.
        return Row(name, requests / seconds, (cpuEnd - cpuStart) / seconds, clientCpu / seconds)
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per server")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time first")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--size", type=int, default=10240, help="message size in bytes")
    parser.add_argument(
        "--servers",
        default="native,raw-uvloop,raw-buffered,torsion,twisted",
        help="comma-separated",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per server (median kept)")
    args = parser.parse_args(argv)
    if shutil.which("openssl") is None:
        print("needs the openssl command", file=sys.stderr)
        return 1
    binary = build()
    clientCore, serverCore = cores()
    print(
        f"TLS echo, {args.size} B messages, {args.connections} connections, "
        f"{args.seconds:g} s per server after {args.warmup:g} s warm-up; "
        f"client on cores {sorted(clientCore)}, servers on {sorted(serverCore)}"
    )
    names = args.servers.split(",")
    rounds: dict[str, list[Row]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = makeCertificate(Path(tmp))
        for _ in range(args.rounds):
            for name in names:
                rounds[name].append(measure(name, args, binary, cert, key))
    rows = {name: sorted(rs, key=lambda r: r.rps)[len(rs) // 2] for name, rs in rounds.items()}
    for row in rows.values():
        print(
            f"  {row.name:<12} {row.rps:>9,.0f} req/s  server CPU {row.serverCpu:>4.0%}  "
            f"client CPU {row.clientCpu:>4.0%}  {row.perCpu:>9,.0f} req/CPU-s"
        )
    if "torsion" in rows:
        torsion = rows["torsion"]
        for other in ("twisted", "raw-uvloop", "raw-buffered", "native"):
            if other in rows:
                pairs = list(zip(rounds["torsion"], rounds[other], strict=True))
                perRound = sorted(t.perCpu / max(o.perCpu, 1e-9) for t, o in pairs)
                spread = ""
                if len(perRound) > 1:
                    spread = (
                        f"; per round {statistics.median(perRound):.2f}x "
                        f"[{perRound[0]:.2f}-{perRound[-1]:.2f}]"
                    )
                print(
                    f"torsion / {other:<12} = {torsion.rps / rows[other].rps:.2f}x req/s, "
                    f"{torsion.perCpu / max(rows[other].perCpu, 1e-9):.2f}x req/CPU-s{spread}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
