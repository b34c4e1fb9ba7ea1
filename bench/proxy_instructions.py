"""Instructions per proxied request of ``torsion proxy``, counted by valgrind.

Wall-clock figures of :mod:`bench.proxy` move by tens of percent between
runs on a shared machine.  This script counts the user-space instructions
the forward proxy executes per request instead, which does not depend on the
load: ``python -m torsion proxy`` runs under ``valgrind --tool=cachegrind``
twice, relaying ``--small`` and then ``--large`` sequential keep-alive
``GET http://127.0.0.1:PORT/small`` requests (absolute form, one client
connection, a 100-byte response from the origin), and the difference of the
two totals is divided by the number of extra requests, so start-up, the
first upstream connection and shutdown cancel out.

The origin is nginx (one worker, keep-alive, the same file as
``bench.proxy``'s ``small`` rows) when it is installed, else a small static
origin in a subprocess (``--origin python``) that answers with the same
header set as nginx.  The count depends on the bytes the proxy sees, so only
compare figures taken with the same origin.

What it does not count: time in the kernel (two reads and two writes per
request, already the minimum) and the load of other processes.

It also measures :mod:`bench.rawproxy`, a bare forward proxy written
directly on uvloop and httptools, as the floor: what the event loop and the
parser cost by themselves (``--proxy torsion`` or ``--proxy raw`` for one).

Run: ``python -m bench.proxy_instructions`` (needs valgrind; about 20 s per
proxy and ``--repeat``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import CACHEGRIND, cachegrindTotal
from bench.proxy import freePort, waitPort

ROOT = Path(__file__).resolve().parent.parent
BODY = b"s" * 100


# -- origins ------------------------------------------------------------------------


def startNginx(work: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """nginx serving ``/small`` from ``work``, or None if it is not installed."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return None
    port = freePort()
    (work / "small").write_bytes(BODY)
    conf = work / "origin.conf"
    conf.write_text(
        f"worker_processes 1;\ndaemon off;\npid {work}/origin.pid;\n"
        f"error_log {work}/origin.err;\nevents {{ worker_connections 256; }}\n"
        f"http {{ access_log off; keepalive_requests 1000000;\n"
        f"client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;\n"
        f"fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi;\n"
        f"scgi_temp_path {work}/scgi;\n"
        f"server {{ listen 127.0.0.1:{port}; root {work}; }} }}\n"
    )
    proc = subprocess.Popen([nginx, "-c", str(conf)], start_new_session=True)
    return proc, port


class _Origin(asyncio.Protocol):
    """Answers every request head with the 100-byte body (keep-alive)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.buffer = self.buffer[end + 4 :]
            date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
            head = (
                "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
                f"Date: {date}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(BODY)}\r\n"
                "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
                'Connection: keep-alive\r\nETag: "65920080-64"\r\n'
                "Accept-Ranges: bytes\r\n\r\n"
            )
            self.transport.write(head.encode("ascii") + BODY)  # type: ignore[attr-defined]


def serveOrigin() -> None:
    """Run the Python origin; print its port on stdout."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Origin, "127.0.0.1", 0))
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()


def startPythonOrigin() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.proxy_instructions", "--serve-origin"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


# -- the measured proxy -------------------------------------------------------------------


def _request(origin: int) -> bytes:
    return (
        b"GET http://127.0.0.1:%d/small HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        b"User-Agent: bench\r\nAccept: */*\r\n\r\n" % (origin, origin)
    )


def _relay(proxy: int, origin: int, count: int) -> None:
    """Send ``count`` requests one after the other on one connection; check each answer."""
    request = _request(origin)
    with socket.create_connection(("127.0.0.1", proxy)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        for _ in range(count):
            s.sendall(request)
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    head = buffer[:end].lower()
                    if not head.startswith(b"http/1.1 200 "):
                        raise RuntimeError(f"unexpected response: {buffer[:200]!r}")
                    length = len(BODY)
                    if b"\r\ncontent-length: %d\r\n" % length not in head + b"\r\n":
                        raise RuntimeError(f"unexpected framing: {head!r}")
                    if len(buffer) >= end + 4 + length:
                        if buffer[end + 4 : end + 4 + length] != BODY:
                            raise RuntimeError("wrong body")
                        buffer = buffer[end + 4 + length :]
                        break
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("the proxy closed the connection")
                buffer += chunk


PROXIES = {
    "torsion": ["-m", "torsion", "proxy", "--listen", "tcp:0:interface=127.0.0.1"],
    "raw": ["-m", "bench.rawproxy"],
}


def countInstructions(origin: int, count: int, proxy: str = "torsion") -> int:
    """Total instructions of one proxy process relaying ``count`` requests."""
    env = dict(
        os.environ,
        PYTHONHASHSEED="0",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    command = [*CACHEGRIND, sys.executable, *PROXIES[proxy]]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        announce = proc.stdout.readline().decode()
        if "listening on" not in announce:
            raise RuntimeError(f"the proxy did not start: {announce!r}")
        port = int(announce.rsplit(":", 1)[1])
        _relay(port, origin, count)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return cachegrindTotal(err, f"the {proxy} proxy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200, help="requests in the first run")
    parser.add_argument("--large", type=int, default=1200, help="requests in the second run")
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times")
    parser.add_argument(
        "--origin", choices=("auto", "nginx", "python"), default="auto", help="default: nginx"
    )
    parser.add_argument(
        "--proxy",
        action="append",
        choices=sorted(PROXIES),
        help="what to measure (repeatable; default: torsion, then the raw floor)",
    )
    parser.add_argument("--serve-origin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_origin:
        serveOrigin()
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    if args.large <= args.small:
        sys.exit("--large must be more than --small")
    work = Path(tempfile.mkdtemp(prefix="torsion-proxy-instr-"))
    work.chmod(0o755)  # nginx workers may run as an unprivileged user
    started = None if args.origin == "python" else startNginx(work)
    if started is None:
        if args.origin == "nginx":
            sys.exit("nginx is not installed")
        started = startPythonOrigin()
        kind = "python"
    else:
        kind = "nginx"
    origin, port = started
    try:
        if not waitPort(port, 10):
            sys.exit("the origin did not start")
        print(f"user-space instructions per proxied request (valgrind; origin: {kind})")
        labels = {"torsion": "torsion forward proxy", "raw": "raw uvloop + httptools floor"}
        figures: dict[str, float] = {}
        for _ in range(args.repeat):
            for proxy in args.proxy or ["torsion", "raw"]:
                small = countInstructions(port, args.small, proxy)
                large = countInstructions(port, args.large, proxy)
                figures[proxy] = perRequest = (large - small) / (args.large - args.small)
                print(f"  {labels[proxy]:30} {perRequest:10,.0f} per request", flush=True)
        if len(figures) == 2:
            print(f"  torsion / floor: {figures['torsion'] / figures['raw']:.2f}x")
    finally:
        os.killpg(origin.pid, signal.SIGTERM)
        origin.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
