"""Plots bench/results/latest.json: throughput and p99 latency per workload, service against the
two baselines (no-op gRPC server, raw MongoDB driver); the soak's RSS when there is one.

    python bench/plot.py bench/results/latest.json bench/results/latest.png

Run by bench/run.ts with matplotlib from a venv in ~/.cache/auth-token-service/bench-venv.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "validate": "Validate",
    "create": "Create at cap",
    "list": "List (100 tokens)",
    "mix": "Mix 90/9/1",
}
TARGETS = [("service", "service", "#1f77b4"), ("noop", "no-op gRPC server", "#aaaaaa"), ("raw", "raw MongoDB driver", "#ff7f0e")]


def value(figures, target, key):
    entry = figures.get(target)
    return entry.get(key) if entry else None


def bars(ax, results, key, ylabel, title, fmt):
    workloads = [w for w in LABELS if w in results["workloads"]]
    width = 0.27
    for i, (target, label, color) in enumerate(TARGETS):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            v = value(results["workloads"][w], target, key)
            if v is not None:
                xs.append(j + (i - 1) * width)
                ys.append(v)
        drawn = ax.bar(xs, ys, width, label=label, color=color)
        for rect, v in zip(drawn, ys):
            ax.annotate(fmt(v), (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([LABELS[w] for w in workloads])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source) as f:
        results = json.load(f)
    meta = results["meta"]
    soak = results.get("soak")
    panels = 3 if soak and soak.get("samples") else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5))
    bars(axes[0], results, "rps", "calls/s", "Throughput (higher is better)", lambda v: f"{v:.0f}")
    bars(axes[1], results, "p99Ms", "ms", "p99 latency (lower is better)", lambda v: f"{v:.1f}")
    if panels == 3:
        ax = axes[2]
        ts = [s["t"] / 60 for s in soak["samples"]]
        ax.plot(ts, [s["rssMb"] for s in soak["samples"]], color="#1f77b4", label="service RSS (MB)")
        ax.axhline(200, color="red", linestyle="--", linewidth=1, label="target 200 MB")
        ax.set_xlabel("minutes")
        ax.set_ylabel("RSS (MB)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"Soak: {soak['calls']:,} calls, {soak['minutes']} min")
        twin = ax.twinx()
        twin.plot(ts, [s["calls"] / 1e6 for s in soak["samples"]], color="#999999", linestyle=":", label="calls (millions)")
        twin.set_ylabel("calls (millions)")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    quick = " — QUICK MODE (smoke run)" if meta.get("quick") else ""
    fig.suptitle(
        f"auth-token-service, {meta.get('date', '')[:16]} UTC, {meta.get('cores')} cores, node {meta.get('node')}, "
        f"mongod {meta.get('mongod')}; ghz concurrency {meta.get('concurrency')}, {meta.get('durationS')} s per run{quick}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main()
