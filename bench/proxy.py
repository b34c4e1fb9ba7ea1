"""Proxy throughput: torsion vs Twisted's proxy, proxy.py, tinyproxy, nginx, direct.

Run: ``python -m bench.proxy [--rounds N] [--duration S] [--warmup S] [--skip NAME,...]``

One nginx (1 worker) is the origin, serving a 100-byte and a 64 KiB file
with keep-alive.  Each subject proxies to it on loopback and ``wrk`` (one
thread) drives it: forward proxies get absolute-form request lines through a
wrk Lua script; nginx is measured as a reverse proxy with a keep-alive
upstream pool (its native ceiling); "direct" is wrk straight to the origin
and shows the load generator is not the bottleneck.  All rows come from one
run, so only compare ratios within it.  On a shared machine the load of
other processes moves whole subjects by tens of percent: ``--rounds N``
measures every subject N times, interleaved (round 1 runs them all, then
round 2 ...), and reports the median of each row and each ratio's median
and range over the rounds.  Peers that cannot be found are
skipped with a message (install: apt-get install wrk nginx-light tinyproxy;
pip install proxy.py).  Last, torsion's peak RSS is sampled with 1,000
concurrent clients.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = [("small", 10), ("small", 50), ("big", 10)]
LUA = 'local t = os.getenv("TARGET")\nrequest = function() return wrk.format("GET", t) end\n'


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def waitPort(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def nginxConf(work: Path, name: str, server: str) -> Path:
    conf = work / f"{name}.conf"
    conf.write_text(
        f"worker_processes 1;\ndaemon off;\npid {work}/{name}.pid;\n"
        f"error_log {work}/{name}.err;\nevents {{ worker_connections 4096; }}\n"
        f"http {{ access_log off; keepalive_requests 1000000;\n"
        f"client_body_temp_path {work}/{name}-body; proxy_temp_path {work}/{name}-proxy;\n"
        f"{server}\n}}\n"
    )
    return conf


def wrk(url: str, conns: int, duration: float, target: str | None, lua: Path) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency"]
    env = dict(os.environ)
    if target is not None:
        cmd += ["-s", str(lua)]
        env["TARGET"] = target
    out = subprocess.run([*cmd, url], capture_output=True, text=True, env=env).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": float(rps.group(1)) if rps else 0.0, "p99": float("nan"), "errors": 0.0}
    if p99:
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
        result["p99"] = float(p99.group(1)) * scale
    if errors:
        result["errors"] = float(errors.group(1))
    return result


Results = dict[str, dict[tuple[str, int], dict[str, float]]]


class Subject:
    def __init__(
        self, name: str, argv: list[str] | None, port: int, forward: bool, why: str = ""
    ) -> None:
        self.name, self.argv, self.port, self.forward, self.why = name, argv, port, forward, why
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> bool:
        if self.argv is None:
            return False
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        if not waitPort(self.port):
            self.why = "did not start listening"
            self.stop()
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None


TWISTED = """
import sys
from twisted.internet import epollreactor
epollreactor.install()
from twisted.internet import reactor
from twisted.web import http, proxy
class F(http.HTTPFactory):
    protocol = proxy.Proxy
reactor.listenTCP(int(sys.argv[1]), F(), interface="127.0.0.1")
reactor.run()
"""


def subjects(work: Path, origin: int) -> list[Subject]:
    out = []
    port = freePort()
    out.append(
        Subject(
            "torsion",
            [
                sys.executable,
                "-m",
                "torsion",
                "proxy",
                "--listen",
                f"tcp:{port}:interface=127.0.0.1",
            ],
            port,
            True,
        )
    )
    port = freePort()
    try:
        import twisted  # noqa: F401

        script = work / "twisted_proxy.py"
        script.write_text(TWISTED)
        out.append(Subject("twisted", [sys.executable, str(script), str(port)], port, True))
    except ImportError:
        out.append(Subject("twisted", None, port, True, "Twisted is not installed"))
    port = freePort()
    proxyPy = shutil.which("proxy")
    probe = subprocess.run([sys.executable, "-c", "import proxy"], capture_output=True)
    if probe.returncode == 0:
        argv = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-acceptors",
            "1",
            "--log-level",
            "e",
        ]
        out.append(Subject("proxy.py", argv, port, True))
    elif proxyPy:
        out.append(
            Subject(
                "proxy.py",
                [
                    proxyPy,
                    "--hostname",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--num-acceptors",
                    "1",
                    "--log-level",
                    "e",
                ],
                port,
                True,
            )
        )
    else:
        out.append(Subject("proxy.py", None, port, True, "pip install proxy.py"))
    port = freePort()
    tiny = shutil.which("tinyproxy") or (
        "/usr/bin/tinyproxy" if Path("/usr/bin/tinyproxy").exists() else None
    )
    if tiny:
        conf = work / "tinyproxy.conf"
        conf.write_text(
            f"Port {port}\nListen 127.0.0.1\nTimeout 600\nAllow 127.0.0.1\n"
            f'MaxClients 1000\nLogLevel Critical\nLogFile "{work}/tiny.log"\n'
            f'PidFile "{work}/tiny.pid"\nDisableViaHeader Yes\n'
        )
        out.append(Subject("tinyproxy", [tiny, "-d", "-c", str(conf)], port, True))
    else:
        out.append(Subject("tinyproxy", None, port, True, "apt-get install tinyproxy"))
    port = freePort()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if Path(nginx).exists():
        conf = nginxConf(
            work,
            "rproxy",
            (
                f"upstream o {{ server 127.0.0.1:{origin}; keepalive 64; }}\n"
                f"server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://o;"
                f' proxy_http_version 1.1; proxy_set_header Connection ""; }} }}'
            ),
        )
        out.append(Subject("nginx (reverse)", [nginx, "-c", str(conf)], port, False))
    else:
        out.append(Subject("nginx (reverse)", None, port, False, "apt-get install nginx-light"))
    out.append(Subject("direct", [], origin, False))
    return out


def peakRss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repeats")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--skip", default="", help="comma-separated subject names to skip")
    parser.add_argument("--json", default="bench/results/proxy.json", help="where to save results")
    parser.add_argument("--chart", default="docs/bench-proxy.png", help="PNG chart ('' for none)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if not shutil.which("wrk"):
        print("wrk is required: apt-get install wrk")
        return 2
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("nginx is required for the origin: apt-get install nginx-light")
        return 2
    work = Path(tempfile.mkdtemp(prefix="torsion-bench-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    (work / "small").write_bytes(b"s" * 100)
    (work / "big").write_bytes(b"b" * 65536)
    lua = work / "fwd.lua"
    lua.write_text(LUA)
    originPort = freePort()
    conf = nginxConf(work, "origin", f"server {{ listen 127.0.0.1:{originPort}; root {work}; }}")
    origin = subprocess.Popen([nginx, "-c", str(conf)], start_new_session=True)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rounds: list[Results] = []
    rss = -1
    try:
        if not waitPort(originPort):
            print("origin nginx did not start")
            return 2
        for n in range(args.rounds):
            if args.rounds > 1:
                print(f"-- round {n + 1} of {args.rounds}", flush=True)
            results: Results = {}
            rounds.append(results)
            rss = max(rss, runRound(work, originPort, lua, skip, results, args, n == 0))
    finally:
        os.killpg(origin.pid, signal.SIGTERM)
        origin.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    merged = median(rounds)
    report(merged, rss, rounds)
    save(merged, rss, Path(args.json), Path(args.chart) if args.chart else None, args, rounds)
    return 0


def runRound(
    work: Path,
    originPort: int,
    lua: Path,
    skip: set[str],
    results: Results,
    args: argparse.Namespace,
    measureRss: bool,
) -> int:
    """Measure every subject once into ``results``; return torsion's peak RSS or -1."""
    rss = -1
    for subject in subjects(work, originPort):
        if subject.name in skip:
            continue
        if subject.argv and not subject.start():
            print(f"skip {subject.name}: {subject.why}")
            continue
        if subject.argv is None:
            print(f"skip {subject.name}: {subject.why}")
            continue
        try:
            row: dict[tuple[str, int], dict[str, float]] = {}
            for path, conns in ROWS:
                originURL = f"http://127.0.0.1:{originPort}/{path}"
                url = f"http://127.0.0.1:{subject.port}/" + ("" if subject.forward else path)
                target = originURL if subject.forward else None
                wrk(url, conns, args.warmup, target, lua)
                row[(path, conns)] = wrk(url, conns, args.duration, target, lua)
                r = row[(path, conns)]
                print(
                    f"{subject.name:16} {path:5} c{conns:<3} {r['rps']:9.0f} req/s"
                    f"  p99 {r['p99']:7.2f} ms  non-2xx {r['errors']:.0f}",
                    flush=True,
                )
            results[subject.name] = row
            if measureRss and subject.name == "torsion" and subject.proc is not None:
                wrk(
                    f"http://127.0.0.1:{subject.port}/",
                    1000,
                    max(args.duration, 3.0),
                    f"http://127.0.0.1:{originPort}/small",
                    lua,
                )
                rss = peakRss(subject.proc.pid)
                print(f"torsion peak RSS with 1,000 concurrent clients: {rss} MiB")
        finally:
            subject.stop()
    return rss


def median(rounds: list[Results]) -> Results:
    """Per subject and row, the median of each figure over the rounds."""
    merged: Results = {}
    for results in rounds:
        for name, row in results.items():
            for key in row:
                if name in merged and key in merged[name]:
                    continue
                values = [r[name][key] for r in rounds if key in r.get(name, {})]
                merged.setdefault(name, {})[key] = {
                    field: statistics.median(v[field] for v in values) for field in values[0]
                }
    return merged


def save(
    results: Results,
    rss: int,
    jsonPath: Path,
    chartPath: Path | None,
    args: argparse.Namespace,
    rounds: list[Results],
) -> None:
    """Write the results as JSON and, with matplotlib, as a PNG chart."""
    import json

    from bench.chart import drawProxy

    labelled = {
        name: {_label(key): value for key, value in row.items()} for name, row in results.items()
    }
    jsonPath.parent.mkdir(parents=True, exist_ok=True)
    jsonPath.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "settings": {
                    "duration": args.duration,
                    "warmup": args.warmup,
                    "rounds": args.rounds,
                },
                "results": labelled,
                "rounds": [
                    {n: {_label(k): v for k, v in row.items()} for n, row in r.items()}
                    for r in rounds
                ],
                "torsion_peak_rss_mib_1000_clients": rss,
            },
            indent=2,
        )
    )
    print(f"results: {jsonPath}")
    if chartPath is not None:
        drawProxy(labelled, rss, chartPath)


def _label(key: tuple[str, int]) -> str:
    path, conns = key
    return f"{'100 B' if path == 'small' else '64 KiB'}, {conns} conns"


def report(results: Results, rss: int, rounds: list[Results]) -> None:
    print()
    header = "| subject | small c10 req/s (p99 ms) | small c50 | 64 KiB c10 |"
    print(header)
    print("|---|---|---|---|")
    for name, row in results.items():
        cells = [f"{row[k]['rps']:.0f} ({row[k]['p99']:.2f})" for k in ROWS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    t = results.get("torsion")
    if not t:
        return

    def ratios(peers: tuple[str, ...], key: tuple[str, int]) -> list[float]:
        """Per round, torsion's req/s over the fastest of ``peers`` measured in it."""
        out = []
        for r in rounds:
            mine = r.get("torsion", {}).get(key)
            others = [r[p][key]["rps"] for p in peers if key in r.get(p, {})]
            if mine and others and max(others):
                out.append(mine["rps"] / max(others))
        return out

    print(f"\nTargets (same run; median [range] over {len(rounds)} round(s)):")
    small, big = ("small", 10), ("big", 10)
    checks = [
        ("vs Twisted's proxy, small c10", ratios(("twisted",), small), 5.0),
        (
            "vs faster of proxy.py/tinyproxy, small c10",
            ratios(("proxy.py", "tinyproxy"), small),
            1.0,
        ),
        ("vs nginx reverse proxy, small c10", ratios(("nginx (reverse)",), small), 0.4),
        ("vs nginx reverse proxy, 64 KiB c10", ratios(("nginx (reverse)",), big), 0.5),
    ]
    for label, values, goal in checks:
        if not values:
            print(f"  {label}: n/a (peer skipped)")
            continue
        mid = statistics.median(values)
        verdict = "ok" if mid >= goal else "BELOW TARGET"
        spread = f" [{min(values):.2f}-{max(values):.2f}]" if len(values) > 1 else ""
        print(f"  {label}: {mid:.2f}x{spread} (target >= {goal}x) {verdict}")
    if rss >= 0:
        verdict = "ok" if rss < 100 else "BELOW TARGET"
        print(f"  peak RSS with 1,000 clients: {rss} MiB (target < 100 MiB) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
