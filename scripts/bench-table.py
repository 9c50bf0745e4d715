#!/usr/bin/env python3
"""Prints the benchmark figures of a results.jsonl as a Markdown table with swift-rtm / nchan ratios.

A scenario run several times (rounds, alternating nchan and swift-rtm) is shown by the median of each
figure over its rounds, with the range of the per-round ratios."""
import json, statistics, sys

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
rounds_of = {}
for row in rows:
    rounds_of.setdefault(row.get("label", row["scenario"]), {}).setdefault(row["target"], []).append(row)

def median_row(runs):
    """One row whose numbers are the medians over the runs (the first run's other fields)."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(run[key] for run in runs if isinstance(run.get(key), (int, float)))
    return merged

def round_ratios(key, n_runs, r_runs):
    """' (rounds: a–b)': the range of swift-rtm / nchan pairing the i-th round of each, if more than one."""
    pairs = [(n.get(key), r.get(key)) for n, r in zip(n_runs, r_runs)]
    ratios = [rv / nv for nv, rv in pairs if nv and rv is not None]
    if len(ratios) < 2:
        return ""
    return f" ({len(ratios)} rounds: {min(ratios):.2f}–{max(ratios):.2f})"

by_label = {label: {target: median_row(runs) for target, runs in targets.items()} for label, targets in rounds_of.items()}
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
        if n and r:
            ratio += round_ratios(key, rounds_of[label]["nchan"], rounds_of[label]["rtm"])
        cpu = f"{fmt(n['server_cpu_pct']) if n else '—'} / {fmt(r['server_cpu_pct']) if r else '—'}"
        gen = f"{fmt(n['generator_cpu_pct']) if n else '—'} / {fmt(r['generator_cpu_pct']) if r else '—'}"
        print(f"| {label}: {key} | {fmt(nv)} | {fmt(rv)} | {ratio} | {cpu} | {gen} |")
    # Per server CPU-second: fair when the generator, not the server, is the bottleneck.
    if scenario in ("publish", "fanout") and n and r:
        key = "deliveries_per_s" if (n.get("deliveries_per_s") or r.get("deliveries_per_s")) else "requests_per_s"
        per = lambda row: row[key] / max(row["server_cpu_pct"], 0.1) * 100
        nv, rv = per(n), per(r)
        print(f"| {label}: {key.replace('_per_s', '')} per server CPU-second | {fmt(nv)} | {fmt(rv)} | {rv / nv:.2f} | | |")
