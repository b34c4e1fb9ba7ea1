"""The PNG chart of an echo benchmark report (needs matplotlib: ``pip install -e '.[bench]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {
    "c-epoll": "#7f7f7f",
    "torsion-uvloop": "#d62728",
    "torsion-asyncio": "#ff9896",
    "raw-uvloop": "#1f77b4",
    "raw-asyncio": "#aec7e8",
    "twisted": "#2ca02c",
}


def _grouped(ax: Any, rows: list[dict[str, Any]], kinds: list[str], key: str) -> None:
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        xs, ys = [], []
        for j, entry in enumerate(rows):
            value = entry["results"].get(kind, {}).get(key)
            if value:
                xs.append(j + (i - (len(kinds) - 1) / 2) * width)
                ys.append(value)
        ax.bar(xs, ys, width, label=kind, color=COLORS.get(kind))
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([e["name"] for e in rows], fontsize=8)
    ax.set_yscale("log")
    ax.grid(axis="y", which="both", alpha=0.3)


def draw(report: dict[str, Any], path: Path) -> bool:
    """Draw req/s and server CPU per request for every row, and peak RSS.

    Returns False (after saying why) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped, matplotlib is not installed (pip install -e '.[bench]')")
        return False

    rows, kinds = report["rows"], report["servers"]
    rss = (report.get("rss") or {}).get("servers") or {}
    fig = plt.figure(figsize=(13, 9))
    grid = fig.add_gridspec(2, 4)
    top = fig.add_subplot(grid[0, :])
    _grouped(top, rows, kinds, "rps")
    top.set_ylabel("requests/s (log)")
    top.set_title(
        f"Echo, strict ping-pong on loopback: best of {report['settings']['repeat']} runs of"
        f" {report['settings']['duration']:g} s ({report['machine']['placement']})",
        fontsize=10,
    )
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=9, ncol=6, loc="upper center", bbox_to_anchor=(0.5, 0.955))

    cost = fig.add_subplot(grid[1, :3] if rss else grid[1, :])
    _grouped(cost, rows, kinds, "server_cpu_us")
    cost.set_ylabel("server CPU us per request (log)")
    cost.set_title("cost per request, lower is better", fontsize=10)

    if rss:
        mem = fig.add_subplot(grid[1, 3])
        names = list(rss)
        mem.bar(
            range(len(names)),
            [rss[k]["peak_kib"] / 1024 for k in names],
            color=[COLORS.get(k) for k in names],
        )
        mem.set_xticks(range(len(names)))
        mem.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        mem.set_ylabel("peak RSS (MiB)")
        mem.set_title(f"{report['rss']['connections']:,} idle connections", fontsize=10)
        mem.grid(axis="y", alpha=0.3)

    fig.suptitle(f"torsion echo benchmark, {report['date'][:10]}", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"chart: {path}")
    return True


def drawProxy(results: dict[str, Any], rss: float, path: Path) -> bool:
    """Bar chart of the proxy benchmark: req/s per subject for each row.

    ``results`` maps a subject to ``{row label: {"rps": ..., "p99": ...}}``.
    Returns False (after saying why) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped, matplotlib is not installed (pip install -e '.[bench]')")
        return False
    subjects = list(results)
    labels = list(next(iter(results.values()))) if results else []
    colors = {
        "torsion": "#d62728",
        "twisted": "#2ca02c",
        "proxy.py": "#9467bd",
        "tinyproxy": "#8c564b",
        "nginx (reverse)": "#1f77b4",
        "direct": "#7f7f7f",
    }
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(len(subjects), 1)
    for i, name in enumerate(subjects):
        xs = [j + (i - (len(subjects) - 1) / 2) * width for j in range(len(labels))]
        ys = [results[name][label]["rps"] for label in labels]
        axes[0].bar(xs, ys, width, label=name, color=colors.get(name))
    axes[0].set_xticks(range(len(labels)))
    axes[0].set_xticklabels(labels)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("requests/s (log)")
    axes[0].grid(axis="y", which="both", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=3)
    axes[0].set_title("throughput through each proxy (nginx origin, wrk, loopback)", fontsize=10)
    p99 = [name for name in subjects if name != "direct"]
    first = labels[0] if labels else None
    if first is not None:
        axes[1].bar(
            range(len(p99)),
            [results[name][first]["p99"] for name in p99],
            color=[colors.get(name) for name in p99],
        )
        axes[1].set_xticks(range(len(p99)))
        axes[1].set_xticklabels(p99, rotation=30, ha="right", fontsize=8)
        axes[1].set_ylabel("p99 latency (ms)")
        title = f"p99 latency, {first}"
        if rss >= 0:
            title += f"; torsion peak RSS with 1,000 clients: {rss} MiB"
        axes[1].set_title(title, fontsize=9)
        axes[1].grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"chart: {path}")
    return True
