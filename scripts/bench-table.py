#!/usr/bin/env python3
"""Prints the benchmark figures of a results.jsonl as a Markdown table with swift-rtm / nchan ratios."""
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
figures = {
    "publish": ("requests_per_s", "deliveries_per_s"),
    "fanout": ("deliveries_per_s",),
    "latency": ("p50_ms", "p99_ms", "p999_ms"),
    "ack": ("p50_ms", "p99_ms"),
    "connections": ("bytes_per_connection", "setup_per_s"),
}
print("| figure | nchan | swift-rtm | swift-rtm / nchan | server CPU % (nchan / rtm) | generator CPU % |")
print("|---|---|---|---|---|---|")
by_label = {}
for row in rows:
    by_label.setdefault(row.get("label", row["scenario"]), {})[row["target"]] = row
for label, targets in by_label.items():
    scenario = next(iter(targets.values()))["scenario"]
    for key in figures.get(scenario, ()):
        n, r = targets.get("nchan"), targets.get("rtm") or targets.get("trivial")
        nv = n.get(key) if n else None
        rv = r.get(key) if r else None
        ratio = f"{rv / nv:.2f}" if nv and rv is not None else "—"
        fmt = lambda v: "—" if v is None else (f"{v:,.0f}" if isinstance(v, (int, float)) and v >= 100 else f"{v:.2f}")
        cpu = f"{fmt(n['server_cpu_pct']) if n else '—'} / {fmt(r['server_cpu_pct']) if r else '—'}"
        gen = fmt(r["generator_cpu_pct"]) if r else "—"
        name = f"{label} {key}" + (" (generator ceiling vs nginx `return 200`)" if "trivial" in targets else "")
        print(f"| {name} | {fmt(nv)} | {fmt(rv)} | {ratio} | {cpu} | {gen} |")
