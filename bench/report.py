"""Ratios, targets, the printed tables and the JSON file of the echo benchmark."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: (a, b) pairs reported as a/b.
RATIOS = (
    ("torsion-uvloop", "raw-uvloop"),
    ("torsion-uvloop", "twisted"),
    ("torsion-asyncio", "raw-asyncio"),
)
#: Issue 2's goals, at 1 KiB x 10 connections and with the idle connections.
TARGETS = {
    "torsion-uvloop/raw-uvloop": 0.9,  # req/s, at least
    "torsion-uvloop/twisted": 3.0,  # req/s, at least
    "rss": 1.5,  # peak RSS torsion-uvloop/raw-uvloop, at most
}
KEYS = ("rps", "mean_us", "p50_us", "p90_us", "p99_us", "max_us", "client_cpu", "server_cpu")


def summarize(cell: dict[str, Any]) -> None:
    """Fill a cell's headline figures from its samples: the best run by req/s.

    ``server_cpu_us`` is the server's CPU time per request (the lowest of the
    samples): its cost per request whatever else runs on the machine.
    """
    samples = [s for s in cell["samples"] if s["rps"] > 0]
    if not samples:
        return
    best = max(samples, key=lambda s: s["rps"])
    cell.update({k: best[k] for k in KEYS})
    cell["server_cpu_us"] = min(s["server_cpu"] / s["rps"] * 1e6 for s in samples)
    cell["client_cpu_us"] = min(s["client_cpu"] / s["rps"] * 1e6 for s in samples)


def ratios(cells: dict[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """a/b by req/s, and by requests per server CPU-second (b's CPU us/req over a's)."""
    by_rps, by_cpu = {}, {}
    for a, b in RATIOS:
        ca, cb = cells.get(a, {}), cells.get(b, {})
        if ca.get("rps") and cb.get("rps"):
            by_rps[f"{a}/{b}"] = ca["rps"] / cb["rps"]
            by_cpu[f"{a}/{b}"] = cb["server_cpu_us"] / ca["server_cpu_us"]
    return by_rps, by_cpu


def print_row(entry: dict[str, Any], kinds: list[str]) -> None:
    print(
        f"  {'server':<16} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} {'server CPU':>11}"
        f" {'client CPU':>11} {'CPU us/req':>11} {'client us/req':>14}"
    )
    for kind in kinds:
        cell = entry["results"].get(kind, {})
        if "rps" not in cell:
            print(f"  {kind:<16} failed: {cell.get('error', 'no result')}")
            continue
        print(
            f"  {kind:<16} {cell['rps']:>9,.0f} {cell['p50_us']:>8,.0f} {cell['p99_us']:>8,.0f}"
            f" {cell['server_cpu']:>10.0%} {cell['client_cpu']:>11.0%}"
            f" {cell['server_cpu_us']:>11.1f} {cell['client_cpu_us']:>14.1f}"
        )
    if entry["ratios"]:
        parts = [
            f"{k} {v:.2f}x (per CPU-s {entry['cpu_ratios'][k]:.2f}x)"
            for k, v in entry["ratios"].items()
        ]
        print("  " + "   ".join(parts), flush=True)


def _table(report: dict[str, Any], title: str, value: str, ratio_key: str, fmt: str) -> None:
    kinds = report["servers"]
    print(f"\n{title}")
    header = f"  {'row':<20}" + "".join(f" {k:>15}" for k in kinds)
    header += "".join(f" {a.removeprefix('torsion-')[:7] + '/' + b:>18}" for a, b in RATIOS)
    print(header)
    for entry in report["rows"]:
        line = f"  {entry['name']:<20}"
        for kind in kinds:
            v = entry["results"].get(kind, {}).get(value)
            line += f" {v:>15{fmt}}" if v else f" {'-':>15}"
        for a, b in RATIOS:
            r = entry[ratio_key].get(f"{a}/{b}")
            line += f" {r:>17.2f}x" if r else f" {'-':>18}"
        print(line)


def print_summary(report: dict[str, Any]) -> None:
    best = report["settings"]["repeat"]
    _table(report, f"summary: requests/s (best of {best})", "rps", "ratios", ",.0f")
    _table(
        report,
        "summary: server CPU us per request (ratios: requests per server CPU-second)",
        "server_cpu_us",
        "cpu_ratios",
        ".1f",
    )
    print(
        "  (ratio columns: torsion-uvloop/raw-uvloop, torsion-uvloop/twisted,"
        " torsion-asyncio/raw-asyncio)"
    )
    print_load_generator(report.get("load_generator"))
    if report["targets"]:
        print("\ntargets (issue 2)")
        for t in report["targets"]:
            verdict = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
            value = "-" if t["value"] is None else f"{t['value']:.2f}x"
            extra = f"  (per CPU-s {t['per_cpu']:.2f}x)" if t.get("per_cpu") else ""
            print(f"  {t['name']:<46} {value:>6}  goal {t['goal']:<6} {verdict}{extra}")
        for note in report.get("notes", []):
            print(f"  note: {note}")


def load_generator_check(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per row: how far beyond the fastest Python server the client drove c-epoll.

    Also compares costs: the client's CPU time per request (lowest over the
    row's runs) against the cheapest Python server's; while the client's is
    lower, the server is the side that limits a run.
    """
    out = []
    for entry in rows:
        cells = entry["results"]
        native = cells.get("c-epoll", {})
        python = {k: c for k, c in cells.items() if k != "c-epoll" and c.get("rps")}
        if not native.get("rps") or not python:
            continue
        fastest = max(python, key=lambda k: python[k]["rps"])
        cheapest = min(python, key=lambda k: python[k]["server_cpu_us"])
        out.append(
            {
                "row": entry["name"],
                "c_epoll_rps": native["rps"],
                "fastest_python": fastest,
                "fastest_python_rps": python[fastest]["rps"],
                "headroom": native["rps"] / python[fastest]["rps"],
                "over_slowest": native["rps"] / min(c["rps"] for c in python.values()),
                "client_cpu_us": min(c["client_cpu_us"] for c in cells.values() if c.get("rps")),
                "c_epoll_cpu_us": native["server_cpu_us"],
                "cheapest_python": cheapest,
                "cheapest_python_cpu_us": python[cheapest]["server_cpu_us"],
            }
        )
    return {"rows": out} if out else None


def print_load_generator(check: dict[str, Any] | None) -> None:
    if not check:
        return
    print("\nload generator: c-epoll's req/s over the fastest and the slowest Python server;")
    print("the client's own CPU us/request next to c-epoll's and the cheapest Python server's")
    for r in check["rows"]:
        print(
            f"  {r['row']:<20} {r['headroom']:>5.2f}x {r['fastest_python']:<15}"
            f" {r['over_slowest']:>5.1f}x slowest   client {r['client_cpu_us']:>5.1f} us,"
            f" c-epoll {r['c_epoll_cpu_us']:>5.1f}, {r['cheapest_python']} "
            f"{r['cheapest_python_cpu_us']:.1f}"
        )


def targets(
    rows: list[dict[str, Any]], rss: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Issue 2's targets with their measured values, and notes on reading them."""
    base = next(
        (r for r in rows if r["workload"] == "echo" and r["size"] == 1024 and r["conns"] == 10),
        None,
    )
    out, notes = [], []
    for key in ("torsion-uvloop/raw-uvloop", "torsion-uvloop/twisted"):
        value = base["ratios"].get(key) if base else None
        out.append(
            {
                "name": f"req/s {key} at 1 KiB x 10",
                "value": value,
                "per_cpu": base["cpu_ratios"].get(key) if base else None,
                "goal": f">= {TARGETS[key]}",
                "met": None if value is None else value >= TARGETS[key],
            }
        )
    if base:
        cells = base["results"]
        native, twisted = cells.get("c-epoll", {}), cells.get("twisted", {})
        if native.get("rps") and twisted.get("rps"):
            ceiling = native["rps"] / twisted["rps"]
            notes.append(
                f"the C server itself reached {ceiling:.2f}x Twisted's req/s in this run"
                " (both sides pay the same loopback TCP cost per request), which bounds"
                " what any server can show against Twisted here"
            )
    if rss is not None:
        value = rss.get("ratio")
        out.append(
            {
                "name": f"peak RSS torsion-uvloop/raw-uvloop, {rss['connections']:,} idle",
                "value": value,
                "goal": f"<= {TARGETS['rss']}",
                "met": None if value is None else value <= TARGETS["rss"],
            }
        )
    return out, notes


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    os.replace(tmp, path)
    print(f"\nresults: {path}")
