"""Echo benchmark: torsion against raw asyncio/uvloop protocols, Twisted and C.

Run ``python -m bench.echo`` (about three minutes) or ``python -m bench.echo
--quick`` (about half a minute).  See ``bench/README.md`` for what every row
and column means.

Every server runs side by side in its own process (pinned away from the load
generator's core); for each row the C load generator drives each server in
turn with strict ping-pong over N connections: warm-up, then a fixed
measured window.  Results go to a JSON file and, when matplotlib is
installed, a PNG chart.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness, report

SERVERS = ("c-epoll", "torsion-uvloop", "torsion-asyncio", "raw-uvloop", "raw-asyncio", "twisted")
LINE_LENGTH = 16
DEFAULT_JSON = harness.BENCH_DIR / "results" / "echo.json"
QUICK_JSON = harness.BENCH_DIR / "results" / "echo-quick.json"
DEFAULT_CHART = harness.ROOT / "docs" / "bench-echo.png"


@dataclass(frozen=True)
class Row:
    """One row of the matrix: a workload, a message size and a connection count."""

    workload: str  # "echo": one write per chunk received; "lines": one write per line
    size: int
    conns: int
    line: int | None = None

    @property
    def name(self) -> str:
        name = f"{self.size // 1024} KiB x {self.conns}"
        if self.workload == "lines" and self.line:
            name += f", {self.size // self.line} lines"
        return name


def _csv_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.echo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short windows and the two required memory rows (well under a minute)",
    )
    parser.add_argument(
        "--duration", type=float, help="measured seconds per run of a cell (default 0.6)"
    )
    parser.add_argument(
        "--warmup", type=float, help="warm-up seconds before each run (default 0.2)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs per cell, server order rotated between rounds; the best is kept"
        " (default 5; --quick: 1)",
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of {', '.join(SERVERS)}",
    )
    parser.add_argument("--payloads", default="1,10,100", help="message sizes in KiB")
    parser.add_argument("--conns", default="10,100", help="connection counts")
    parser.add_argument(
        "--no-lines",
        action="store_true",
        help=f"skip the many-small-writes row (1 KiB as {LINE_LENGTH}-byte lines)",
    )
    parser.add_argument(
        "--idle-conns",
        type=int,
        default=5000,
        help="idle connections for the memory rows (default 5000)",
    )
    parser.add_argument(
        "--rss-servers",
        help="servers for the memory rows (default: all Python servers;"
        " --quick: torsion-uvloop and raw-uvloop)",
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the memory rows")
    parser.add_argument("--json", type=Path, help=f"results file (default {DEFAULT_JSON})")
    parser.add_argument("--chart", type=Path, help=f"PNG chart (default {DEFAULT_CHART})")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=harness.BUILD_DIR,
        help="where the C programs are compiled (default bench/build)",
    )
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 0.4 if args.quick else 0.6
    if args.warmup is None:
        args.warmup = 0.15 if args.quick else 0.2
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    if args.duration <= 0 or args.warmup < 0 or args.repeat < 1 or args.idle_conns < 1:
        parser.error("--duration, --repeat and --idle-conns must be positive, --warmup >= 0")
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    if args.rss_servers is None:
        python_servers = [s for s in SERVERS if s != "c-epoll"]
        args.rss_servers = ["torsion-uvloop", "raw-uvloop"] if args.quick else python_servers
    else:
        args.rss_servers = [s.strip() for s in args.rss_servers.split(",") if s.strip()]
    if args.json is None:
        args.json = QUICK_JSON if args.quick else DEFAULT_JSON
    return args


def rows_for(args: argparse.Namespace) -> list[Row]:
    rows = [
        Row("echo", kib * 1024, conns)
        for kib in _csv_ints(args.payloads)
        for conns in _csv_ints(args.conns)
    ]
    if not args.no_lines:
        rows.append(Row("lines", 1024, 10, LINE_LENGTH))
    return rows


def available(kind: str) -> str | None:
    """Why ``kind`` cannot run here, or None."""
    if "uvloop" in kind and importlib.util.find_spec("uvloop") is None:
        return "uvloop is not installed"
    if kind == "twisted" and importlib.util.find_spec("twisted") is None:
        return "Twisted is not installed"
    return None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


# -- running --------------------------------------------------------------------


def run_matrix(
    args: argparse.Namespace,
    servers: dict[str, harness.Server],
    client: Path,
    where: harness.Placement,
) -> list[dict[str, Any]]:
    results = []
    kinds = list(servers)
    for row in rows_for(args):
        print(f"\n{row.name} ({row.workload})", flush=True)
        cells: dict[str, dict[str, Any]] = {}
        for rep in range(args.repeat):
            order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
            for kind in order:
                cell = cells.setdefault(kind, {"samples": []})
                server = servers[kind]
                if not server.alive():
                    cell["error"] = f"server exited: {server.errors()[-500:]}"
                    continue
                try:
                    sample = harness.run_load(
                        client,
                        server,
                        where.client,
                        workload=row.workload,
                        size=row.size,
                        conns=row.conns,
                        line=row.line,
                        warmup=args.warmup,
                        duration=args.duration,
                    )
                except harness.BenchError as e:
                    cell["error"] = str(e)
                    continue
                cell["samples"].append(sample)
        for cell in cells.values():
            report.summarize(cell)
        entry = {
            "name": row.name,
            "workload": row.workload,
            "size": row.size,
            "conns": row.conns,
            "line": row.line,
            "results": cells,
        }
        entry["ratios"], entry["cpu_ratios"] = report.ratios(cells)
        report.print_row(entry, kinds)
        results.append(entry)
    return results


def run_rss(args: argparse.Namespace, client: Path, where: harness.Placement) -> dict[str, Any]:
    print(f"\npeak RSS with {args.idle_conns:,} idle connections (fresh server processes)")
    print(f"  {'server':<16} {'before':>10} {'peak':>10} {'per conn':>10}")
    found: dict[str, Any] = {}
    for kind in args.rss_servers:
        why = available(kind)
        if why:
            print(f"  {kind:<16} skipped: {why}")
            continue
        try:
            server = harness.start_server(kind, where.servers, args.build_dir)
        except harness.BenchError as e:
            print(f"  {kind:<16} {e}")
            continue
        try:
            found[kind] = harness.idle_memory(client, server, where.client, args.idle_conns)
        except harness.BenchError as e:
            print(f"  {kind:<16} {e}")
            continue
        finally:
            server.stop()
        m = found[kind]
        print(
            f"  {kind:<16} {m['baseline_kib'] / 1024:>7.1f} MiB {m['peak_kib'] / 1024:>6.1f} MiB"
            f" {m['per_connection_bytes']:>7,} B",
            flush=True,
        )
    out: dict[str, Any] = {"connections": args.idle_conns, "servers": found}
    if "torsion-uvloop" in found and "raw-uvloop" in found:
        out["ratio"] = found["torsion-uvloop"]["peak_kib"] / found["raw-uvloop"]["peak_kib"]
        print(f"  peak RSS torsion-uvloop/raw-uvloop = {out['ratio']:.2f}x")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    where = harness.placement()
    try:
        client = harness.build("echo_client", args.build_dir)
        if "c-epoll" in args.servers or "c-epoll" in args.rss_servers:
            harness.build("echo_server", args.build_dir)
    except harness.BenchError as e:
        print(e, file=sys.stderr)
        return 1
    print(
        f"echo benchmark: strict ping-pong on 127.0.0.1, warm-up {args.warmup:g} s + "
        f"{args.duration:g} s per cell, best of {args.repeat}"
    )
    print(
        f"{where.describe()}; Python {platform.python_version()}, "
        f"uvloop {_version('uvloop')}, Twisted {_version('twisted')}"
    )
    servers: dict[str, harness.Server] = {}
    try:
        for kind in args.servers:
            why = available(kind)
            if why:
                print(f"skipping {kind}: {why}")
                continue
            try:
                servers[kind] = harness.start_server(kind, where.servers, args.build_dir)
            except harness.BenchError as e:
                print(f"skipping {kind}: {e}")
        if not servers:
            print("no server could start", file=sys.stderr)
            return 1
        rows = run_matrix(args, servers, client, where)
    finally:
        for server in servers.values():
            server.stop()
    rss = None if args.no_rss else run_rss(args, client, where)
    data: dict[str, Any] = {
        "benchmark": "echo",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m bench.echo " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cpus": os.cpu_count(),
            "placement": where.describe(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "uvloop": _version("uvloop"),
            "twisted": _version("twisted"),
        },
        "settings": {"warmup": args.warmup, "duration": args.duration, "repeat": args.repeat},
        "servers": list(servers),
        "rows": rows,
        "rss": rss,
        "load_generator": report.load_generator_check(rows),
    }
    data["targets"], data["notes"] = report.targets(rows, rss)
    report.print_summary(data)
    report.write_json(args.json, data)
    if not args.no_chart:
        if args.quick and args.chart is None:
            print("chart: not drawn for --quick (pass --chart PATH to draw one)")
        else:
            from bench import chart

            chart.draw(data, args.chart or DEFAULT_CHART)
    return 0


if __name__ == "__main__":
    sys.exit(main())
