"""Instructions per TLS echo of the bench.tls_echo servers, counted by valgrind.

Wall-clock TLS figures on a shared VM move by tens of percent between runs;
user-space instruction counts do not depend on the load.  Each Python server
of :mod:`bench.tls_echo` runs under ``valgrind --tool=cachegrind`` twice,
answering ``--small`` and then ``--large`` 10 KiB echoes from one blocking
TLS client, and the difference is divided by the number of extra echoes
(start-up, handshake and shutdown cancel out).  Encryption is included
(OpenSSL runs in the server process); time in the kernel is not.

Run: ``python -m bench.tls_instructions [--server NAME]...`` (needs valgrind
and openssl; about a minute per server).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench.harness import CACHEGRIND, stopCachegrind
from bench.tls_echo import ROOT, SERVERS, makeCertificate


def countInstructions(name: str, cert: str, key: str, echoes: int, size: int) -> int:
    """Run the ``name`` server under cachegrind for ``echoes`` round trips."""
    code = textwrap.dedent(SERVERS[name]).replace("{src!r}", repr(str(ROOT / "src")))
    proc = subprocess.Popen(
        [*CACHEGRIND, sys.executable, "-c", code, cert, key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    context = ssl.create_default_context(cafile=cert)
    message = b"x" * size
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            for _ in range(echoes):
                s.sendall(message)
                received = 0
                while received < size:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError(f"the {name} server closed the connection")
                    received += len(chunk)
    return stopCachegrind(proc, name, signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200, help="echoes in the first run")
    parser.add_argument("--large", type=int, default=1200, help="echoes in the second run")
    parser.add_argument("--size", type=int, default=10240, help="message size in bytes")
    parser.add_argument(
        "--server", choices=sorted(SERVERS), action="append", help="default: all Python servers"
    )
    args = parser.parse_args(argv)
    for tool in ("valgrind", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    print(f"user-space instructions per {args.size} B TLS echo (valgrind)")
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as work:
        cert, key = makeCertificate(Path(work))
        for name in args.server or ["raw-buffered", "torsion", "twisted"]:
            small = countInstructions(name, cert, key, args.small, args.size)
            large = countInstructions(name, cert, key, args.large, args.size)
            counts[name] = (large - small) / (args.large - args.small)
            print(f"  {name:14} {counts[name]:12,.0f}", flush=True)
    for other in ("twisted", "raw-buffered", "raw-uvloop"):
        if "torsion" in counts and other in counts:
            print(f"  {other}/torsion = {counts[other] / counts['torsion']:.2f}x")


if __name__ == "__main__":
    main()
