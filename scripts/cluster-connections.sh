#!/usr/bin/env bash
# Idle logged-in connections held by a cluster (issue 12): NODES `rtm serve` nodes (default 6) on one
# PostgreSQL and as many rtm-bench generator processes, generator i opening its share of CONNECTIONS
# (default 100,000) on node i: each logs in (and joins no channel), so every node's view holds every
# other node's users. Prints each node's connections, its resident memory before and after, and the
# bytes per connection it holds (what the node's view of the others' users costs is in that figure:
# every node holds the whole cluster's registry).
# Why 6 nodes for 100,000: one process may hold 20,000 open files here, and 100,000 / 5 would leave a
# node no room for its listener, its database connections and its files; so 16,667 per node, and one
# generator per node for the same reason.
# Usage: scripts/with-postgres.sh scripts/cluster-connections.sh
#        CONNECTIONS=N NODES=K OPENING=H (handshakes in flight per generator, default 64: on 2 cores,
#        more starve the generators past the server's login deadline)
set -euo pipefail
cd "$(dirname "$0")/.."
total=${CONNECTIONS:-100000}; nodes=${NODES:-6}
bin=${BENCH_BIN:-.build/release}
work=$(mktemp -d); pids=()
. scripts/cluster-lib.sh
for i in $(seq 1 "$nodes"); do start_node "$i"; done
for i in $(seq 1 "$nodes"); do
  [ -n "$(node_url "$i")" ] || { echo "node $i did not start:" >&2; tail -n 20 "$work/node-$i.log" >&2; exit 1; }
done
sleep 2
share=$(( (total + nodes - 1) / nodes ))
echo "# $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB; $nodes nodes, $share connections each, open files per process: $(ulimit -n)"
for i in $(seq 1 "$nodes"); do eval "rss_before_$i=$(rss_kib "$(node_pid "$i")")"; done
started=$(date +%s.%N)
gens=()
for i in $(seq 1 "$nodes"); do
  # They hold their connections until the figures are read (then the cleanup stops them).
  "$bin/rtm-bench" connections --login-only --opening "${OPENING:-64}" --url "$(node_url "$i")" --subscribers "$share" --user-prefix "g$i-" --hold 3600 \
    --server-pid "$(node_pid "$i")" --label "node $i" > "$work/gen-$i.json" 2> "$work/gen-$i.err" &
  pids+=($!); gens+=($!)
done
# Each generator prints its line once its connections are ready (or it gave up after 600 s).
for i in $(seq 1 "$nodes"); do
  for _ in $(seq 1 6600); do [ -s "$work/gen-$i.json" ] && break; sleep 0.1; done
done
ready_seconds=$(python3 -c "import time; print(round(time.time() - $started, 1))")
sleep 5   # the bus carries the last logins and joins to every node
total_ready=0
for i in $(seq 1 "$nodes"); do
  pid=$(node_pid "$i"); before=$(eval "echo \$rss_before_$i"); after=$(rss_kib "$pid")
  conns=$(python3 -c "import json,sys; print(json.load(open('$work/gen-$i.json'))['connections'])" 2>/dev/null || echo 0)
  failed=$(python3 -c "import json,sys; print(json.load(open('$work/gen-$i.json'))['failed'])" 2>/dev/null || echo "?")
  open=$(curl -s "$(node_url "$i")/metrics" | awk '/^rtm_connections_open/ {print $2; exit}')
  files=$(ls "/proc/$pid/fd" | wc -l)   # FINE-POINTS: each node's open files beside its memory
  total_ready=$((total_ready + conns))
  echo "{\"node\": $i, \"connections\": $conns, \"failed\": $failed, \"rtm_connections_open\": ${open:-0}, \"open_files\": $files, \"rss_before_mb\": $((before / 1024)), \"rss_after_mb\": $((after / 1024)), \"bytes_per_connection\": $(( conns > 0 ? (after - before) * 1024 / conns : 0 ))}"
done
echo "{\"connections\": $total_ready, \"nodes\": $nodes, \"seconds_to_ready\": $ready_seconds, \"postgres_rss_mb\": $(ps -C postgres -o rss= | awk '{s+=$1} END {print int(s/1024)}')}"
