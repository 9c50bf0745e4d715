#!/usr/bin/env bash
# Cross-node figures of a cluster (issue 12), beside the same scenarios on one node of the same
# cluster, measured with rtm-bench in one run:
#   ack:     REST wait_for_ack on node 1 -> the receiver's client acks -> message_delivered, one at a
#            time (closed loop), then started at 200/s (paced, several in flight); the receiver on
#            node 1 (local) or on node 2 (cross-node)
#   latency: REST publish on node 1 -> 10 subscribers of one channel at 200 messages/s, p50/p99;
#            the subscribers on node 1 or on node 2
#   fanout:  4 closed-loop REST publishers on node 1 -> one channel of 1,000 subscribers, all on
#            node 1 or spread over nodes 1, 2 and 3; deliveries counted where they arrive
# Nodes 1 and 2 run on CPU 0 and CPU 1, node 3 (used by the fan-out only) floats; PostgreSQL and
# rtm-bench share both cores (a 2-core machine).
# Usage: scripts/with-postgres.sh scripts/cluster-bench.sh   (a throwaway PostgreSQL, fsync off)
#        BENCH_BIN=DIR (release rtm and rtm-bench; default .build/release: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-.build/release}
work=$(mktemp -d); pids=()
. scripts/cluster-lib.sh
start_node 1 0
start_node 2 1
start_node 3
n1=$(node_url 1); n2=$(node_url 2); n3=$(node_url 3)
if [ -z "$n1" ] || [ -z "$n2" ] || [ -z "$n3" ]; then echo "the nodes did not start:" >&2; tail -n 20 "$work"/node-*.log >&2; exit 1; fi
sleep 2   # the buses listen and the nodes have seen each other
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), PostgreSQL fsync off; node 1 $n1 (CPU 0), node 2 $n2 (CPU 1), node 3 $n3"
run() { echo "# rtm-bench $*"; "$bin/rtm-bench" "$@"; }
run ack --url "$n1" --count 2000 --label "ack, one node"
run ack --url "$n1" --subscribe-url "$n2" --count 2000 --label "ack, cross-node"
run ack --url "$n1" --count 2000 --paced --rate 200 --label "ack at 200/s, one node"
run ack --url "$n1" --subscribe-url "$n2" --count 2000 --paced --rate 200 --label "ack at 200/s, cross-node"
run latency --url "$n1" --subscribers 10 --rate 200 --duration 10 --label "latency, one node"
run latency --url "$n1" --subscribe-url "$n2" --subscribers 10 --rate 200 --duration 10 --label "latency, cross-node"
run fanout --url "$n1" --subscribers 1000 --concurrency 4 --duration 10 --server-pid "$(node_pid 1)" --label "fan-out 1,000, one node"
run fanout --url "$n1" --subscribe-url "$n1,$n2,$n3" --subscribers 1000 --concurrency 4 --duration 10 --server-pid "$(node_pid 1)" \
  --label "fan-out 1,000, over 3 nodes"
