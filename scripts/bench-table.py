#!/usr/bin/env python3
"""Prints the benchmark figures of a results.jsonl as a Markdown table with swift-rtm / nchan ratios."""
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
figures = {
    "publish": ("requests_per_s", "deliveries_per_s"),
    "fanout": ("deliveries_per_s",),
    "latency": ("p50_ms", "p99_ms", "p999_ms"),
    "ack": ("p50_ms", "p99_ms", "round_trips_per_s"),
    "connections": ("bytes_per_connection", "setup_per_s"),
}

def fmt(value):
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"

print("| figure | nchan | swift-rtm | swift-rtm / nchan | server CPU % (nchan / swift-rtm) | generator CPU % (nchan / swift-rtm) |")
print("|---|---|---|---|---|---|")
by_label = {}
for row in rows:
    by_label.setdefault(row.get("label", row["scenario"]), {})[row["target"]] = row
for label, targets in by_label.items():
    if "trivial" in targets:
        t = targets["trivial"]
        print(f"| generator ceiling: POSTs/s to nginx `return 200` | {fmt(t['requests_per_s'])} | — | — | {fmt(t['server_cpu_pct'])} | {fmt(t['generator_cpu_pct'])} |")
        continue
    scenario = next(iter(targets.values()))["scenario"]
    n, r = targets.get("nchan"), targets.get("rtm")
    for key in figures.get(scenario, ()):
        nv = n.get(key) if n else None
        rv = r.get(key) if r else None
        if not nv and not rv:
            continue
        ratio = f"{rv / nv:.2f}" if nv and rv is not None else "—"
        cpu = f"{fmt(n['server_cpu_pct']) if n else '—'} / {fmt(r['server_cpu_pct']) if r else '—'}"
        gen = f"{fmt(n['generator_cpu_pct']) if n else '—'} / {fmt(r['generator_cpu_pct']) if r else '—'}"
        print(f"| {label}: {key} | {fmt(nv)} | {fmt(rv)} | {ratio} | {cpu} | {gen} |")
    # Per server CPU-second: fair when the generator, not the server, is the bottleneck.
    if scenario in ("publish", "fanout") and n and r:
        key = "deliveries_per_s" if (n.get("deliveries_per_s") or r.get("deliveries_per_s")) else "requests_per_s"
        per = lambda row: row[key] / max(row["server_cpu_pct"], 0.1) * 100
        nv, rv = per(n), per(r)
        print(f"| {label}: {key.replace('_per_s', '')} per server CPU-second | {fmt(nv)} | {fmt(rv)} | {rv / nv:.2f} | | |")
