#!/usr/bin/env bash
# Cross-node figures of a two-node cluster (issue 12), beside the same scenarios on one node of the
# same cluster, measured with rtm-bench in one run:
#   ack:     REST wait_for_ack on node 1 -> the receiver's client acks -> message_delivered, one at a
#            time (closed loop); the receiver on node 1 (local) or on node 2 (cross-node)
#   latency: REST publish on node 1 -> 10 subscribers of one channel at 200 messages/s, p50/p99;
#            the subscribers on node 1 or on node 2
# Node 1 runs on CPU 0, node 2 on CPU 1; PostgreSQL and rtm-bench share both (a 2-core machine).
# Usage: scripts/with-postgres.sh scripts/cluster-bench.sh   (a throwaway PostgreSQL, fsync off)
#        BENCH_BIN=DIR (release rtm and rtm-bench; default .build/release: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-.build/release}
[ -n "${RTM_TEST_POSTGRES_URL:-}" ] || { echo "run it under scripts/with-postgres.sh" >&2; exit 2; }
[ -x "$bin/rtm" ] && [ -x "$bin/rtm-bench" ] || { echo "no release rtm and rtm-bench in $bin" >&2; exit 2; }
work=$(mktemp -d); pids=()
cleanup() { # SIGTERM, up to 10 s, then SIGKILL: no node outlives the run
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
db="rtm_cluster_bench_$$"
psql -q "$RTM_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
url="${RTM_TEST_POSTGRES_URL%/*}/$db"
cat > "$work/rtm.json" <<CONF
{"apps": [{"app_id": "0123456789abcdef0123456789abcdef", "messaging_rate_limit": 100000000}],
 "customers": [{"id": "bench", "secret": "bench-secret", "apps": ["*"]}]}
CONF
start_node() { # index cpu: starts it (its pid kept for the cleanup) and waits for its listening line
  taskset -c "$2" "$bin/rtm" serve --port 0 --data-dir "$work/data-$1" --config "$work/rtm.json" \
    --database-url "$url" --node-id "node-$1" --log-level error > "$work/node-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do grep -q "^listening on" "$work/node-$1.log" && break; sleep 0.2; done
}
node_url() { sed -n 's|^listening on \(http://127.0.0.1:[0-9]*\)$|\1|p' "$work/node-$1.log" | head -n 1; }
start_node 1 0   # not in $( ): the pid must reach this shell's list, or the cleanup would leave the node running
start_node 2 1
n1=$(node_url 1); n2=$(node_url 2)
if [ -z "$n1" ] || [ -z "$n2" ]; then echo "the nodes did not start:" >&2; tail -n 20 "$work"/node-*.log >&2; exit 1; fi
sleep 2   # both buses listen and the nodes have seen each other
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), PostgreSQL fsync off; node 1 $n1 (CPU 0), node 2 $n2 (CPU 1)"
run() { echo "# rtm-bench $*"; "$bin/rtm-bench" "$@"; }
run ack --url "$n1" --count 2000 --label "ack, one node"
run ack --url "$n1" --subscribe-url "$n2" --count 2000 --label "ack, cross-node"
run latency --url "$n1" --subscribers 10 --rate 200 --duration 10 --label "latency, one node"
run latency --url "$n1" --subscribe-url "$n2" --subscribers 10 --rate 200 --duration 10 --label "latency, cross-node"
