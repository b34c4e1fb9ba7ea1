"""Instructions per packet of the bench.linereceiver servers, counted by valgrind.

On a shared machine, wall-clock and even CPU-time figures move by tens of
percent from one run to the next.  This script counts the user-space
instructions a server executes per request packet instead, which does not
depend on the load: each server of :mod:`bench.linereceiver` runs under
``valgrind --tool=cachegrind`` twice, answering ``--small`` and then
``--large`` packets from a simple blocking client, and the difference is
divided by the number of extra packets (start-up and shutdown cancel out).

What it does not count: time in the kernel.  torsion and Twisted make about
one ``recv`` and one ``send`` per packet (Twisted also adds and removes a
writer from epoll); the raw uvloop server makes one ``send`` per line, so its
figure here hides most of its cost.

Run: ``python -m bench.linereceiver_instructions`` (needs valgrind; slow:
about a minute per row).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from bench.harness import CACHEGRIND, stopCachegrind
from bench.linereceiver import makeBatch

ROOT = Path(__file__).resolve().parent.parent


def countInstructions(kind: str, workload: str, packets: int, lines: int) -> int:
    """Run the ``kind`` server under cachegrind for ``packets`` request packets."""
    env = dict(
        os.environ,
        PYTHONHASHSEED="0",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    command = [*CACHEGRIND, sys.executable, "-m", "bench.linereceiver", "--serve", kind]
    command += ["--workload", workload, "--lines", str(lines)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    batch = makeBatch(workload, lines)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(packets):
            s.sendall(batch)
            received = 0
            while received < len(batch):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError(f"the {kind} server closed the connection")
                received += len(chunk)
    return stopCachegrind(proc, kind)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=100, help="packets in the first run")
    parser.add_argument("--large", type=int, default=600, help="packets in the second run")
    parser.add_argument("--lines", type=int, default=100, help="lines (strings) per packet")
    parser.add_argument("--workload", choices=("lines", "int32"), action="append")
    parser.add_argument(
        "--server", choices=("raw", "twisted", "torsion"), action="append", help="default: all"
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    print(f"user-space instructions per packet of {args.lines} lines/strings (valgrind)")
    for workload in args.workload or ["lines", "int32"]:
        counts = {}
        for kind in args.server or ["raw", "twisted", "torsion"]:
            small = countInstructions(kind, workload, args.small, args.lines)
            large = countInstructions(kind, workload, args.large, args.lines)
            counts[kind] = (large - small) / (args.large - args.small)
            print(
                f"  {workload:6} {kind:8} {counts[kind]:12,.0f} per packet "
                f"{counts[kind] / args.lines:8,.0f} per item",
                flush=True,
            )
        if "torsion" in counts and "twisted" in counts:
            print(f"  {workload}: twisted/torsion = {counts['twisted'] / counts['torsion']:.2f}x")


if __name__ == "__main__":
    main()
