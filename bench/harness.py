"""Processes for the benchmarks: the C programs, server subprocesses, CPU pinning.

The native programs (``echo_client.c``, ``echo_server.c``) are compiled with
``cc -O2`` into ``bench/build/`` (ignored by git) the first time they are
needed and whenever their source changes.  Each server runs in its own
process; on a machine with at least two usable cores the servers are pinned
to one core and the load generator to another, so they never compete for a
core with each other.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = BENCH_DIR / "build"
CFLAGS = ["-O2", "-Wall", "-Wextra"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark process failed; the message says which and why."""


# -- valgrind ------------------------------------------------------------------

#: Prefix of a command that counts the user-space instructions it runs.
CACHEGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]


def stopCachegrind(proc: subprocess.Popen[Any], what: str, sig: int = signal.SIGTERM) -> int:
    """Stop a server running under :data:`CACHEGRIND` and return its total.

    The server gets half a second to finish what it was answering, then
    ``sig``; it is killed if it has not exited two minutes later.
    """
    time.sleep(0.5)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return cachegrindTotal(err or b"", what)


def cachegrindTotal(stderr: str | bytes, what: str) -> int:
    """The instruction total (``I refs``) in cachegrind's report on ``stderr``.

    Raises:
        BenchError: naming ``what``, when the report is missing.
    """
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    for line in text.splitlines():
        if "I" in line and "refs:" in line:
            return int(line.rsplit(None, 1)[-1].replace(",", ""))
    raise BenchError(f"no instruction count from valgrind for {what}:\n{text[-2000:]}")


# -- building ------------------------------------------------------------------


def build(name: str, build_dir: Path = BUILD_DIR) -> Path:
    """Compile ``bench/<name>.c`` into ``build_dir/<name>`` unless it is up to date."""
    source = BENCH_DIR / f"{name}.c"
    binary = build_dir / name
    cc = os.environ.get("CC", "cc")
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    build_dir.mkdir(parents=True, exist_ok=True)
    command = [*shlex.split(cc), *CFLAGS, "-o", str(binary), str(source)]
    print(f"building: {' '.join(command)}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"compiling {source.name} failed:\n{done.stderr}")
    return binary


# -- CPU placement ----------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Which cores the load generator and the servers may use."""

    client: frozenset[int]
    servers: frozenset[int]

    @property
    def separate(self) -> bool:
        return not (self.client & self.servers)

    def describe(self) -> str:
        if not self.separate:
            return f"not pinned (only core(s) {sorted(self.client)} usable)"
        return f"client on core {sorted(self.client)}, servers on core {sorted(self.servers)}"


def placement() -> Placement:
    """Client on the first usable core, servers on the second (if there is one)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        everything = frozenset(cores)
        return Placement(everything, everything)
    return Placement(frozenset(cores[:1]), frozenset(cores[1:2]))


def pin(pid: int, cores: frozenset[int]) -> None:
    try:
        os.sched_setaffinity(pid, cores)
    except OSError:
        pass


# -- /proc readings ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of proc(5)); utime/stime are fields 14/15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in KiB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


# -- servers -------------------------------------------------------------------


def server_command(kind: str, build_dir: Path) -> list[str]:
    if kind == "c-epoll":
        return [str(build("echo_server", build_dir))]
    return [sys.executable, "-m", "bench.servers", kind]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    extra = [str(ROOT), str(ROOT / "src")]
    if env.get("PYTHONPATH"):
        extra.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(extra)
    env.pop("TORSION_LOOP", None)
    return env


@dataclass
class Server:
    """One echo server subprocess, listening on an echo port and a lines port."""

    kind: str
    process: subprocess.Popen[bytes]
    echo_port: int
    lines_port: int
    stderr: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def port(self, workload: str) -> int:
        return self.lines_port if workload == "lines" else self.echo_port

    def alive(self) -> bool:
        return self.process.poll() is None

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


def start_server(kind: str, cores: frozenset[int], build_dir: Path = BUILD_DIR) -> Server:
    """Start ``kind`` (see :data:`bench.servers.KINDS`, or ``c-epoll``) and wait for its ports."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the Server, closed in stop()
    process = subprocess.Popen(
        server_command(kind, build_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=ROOT,
        env=_child_env(),
    )
    pin(process.pid, cores)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or process.poll() is not None:
            break
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            chunk = os.read(process.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    words = line.split()
    if len(words) != 3 or words[0] != b"PORTS":
        server = Server(kind, process, 0, 0, stderr)
        message = server.errors() or line.decode(errors="replace") or "no output"
        server.stop()
        raise BenchError(f"server {kind} did not start: {message}")
    return Server(kind, process, int(words[1]), int(words[2]), stderr)


# -- the load generator -----------------------------------------------------------


def run_load(
    client: Path,
    server: Server,
    cores: frozenset[int],
    *,
    workload: str,
    size: int,
    conns: int,
    line: int | None,
    warmup: float,
    duration: float,
) -> dict[str, Any]:
    """One measured cell: the client's JSON report plus the server's CPU use."""
    command = [
        str(client),
        "--port",
        str(server.port(workload)),
        "--conns",
        str(conns),
        "--size",
        str(size),
        "--warmup",
        str(warmup),
        "--duration",
        str(duration),
    ]
    if line:
        command += ["--line", str(line)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pin(process.pid, cores)
    started = time.monotonic()
    # Sample the server's CPU time over (roughly) the client's measured window.
    time.sleep(warmup)
    cpu_start, wall_start = cpu_seconds(server.pid), time.monotonic()
    time.sleep(max(0.0, started + warmup + duration - time.monotonic()))
    cpu_end, wall_end = cpu_seconds(server.pid), time.monotonic()
    try:
        out, err = process.communicate(timeout=duration + warmup + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchError(f"load generator against {server.kind} timed out") from None
    if process.returncode != 0:
        raise BenchError(
            f"load generator against {server.kind} failed ({process.returncode}): "
            f"{err.decode(errors='replace').strip()}"
        )
    result: dict[str, Any] = json.loads(out)
    result["server_cpu"] = (cpu_end - cpu_start) / max(wall_end - wall_start, 1e-9)
    return result


def idle_memory(client: Path, server: Server, cores: frozenset[int], conns: int) -> dict[str, Any]:
    """Open ``conns`` idle connections to ``server``; its RSS before and at peak."""
    time.sleep(0.2)
    baseline = memory_kib(server.pid)["VmRSS"]
    process = subprocess.Popen(
        [str(client), "--port", str(server.echo_port), "--idle", str(conns)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pin(process.pid, cores)
    assert process.stdout is not None and process.stdin is not None
    try:
        ready = process.stdout.readline()
        if not ready.startswith(b"READY"):
            process.kill()
            _, err = process.communicate()
            raise BenchError(
                f"idle connections to {server.kind} failed: {err.decode(errors='replace')}"
            )
        time.sleep(0.5)
        if not server.alive():
            raise BenchError(f"server {server.kind} died holding {conns} connections")
        memory = memory_kib(server.pid)
    finally:
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
    peak = memory["VmHWM"]
    return {
        "connections": conns,
        "baseline_kib": baseline,
        "rss_kib": memory["VmRSS"],
        "peak_kib": peak,
        "per_connection_bytes": round((peak - baseline) * 1024 / conns),
    }
