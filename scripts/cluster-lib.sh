# Shared by the cluster benchmark scripts (sourced, not run): a fresh database on the PostgreSQL that
# scripts/with-postgres.sh started, a bench configuration, `rtm serve` nodes started in the
# background (their pids kept for the cleanup) and their URLs.
# Needs: bin (the directory of release rtm and rtm-bench), work (a temp dir), pids=() in the caller.
[ -n "${RTM_TEST_POSTGRES_URL:-}" ] || { echo "run it under scripts/with-postgres.sh" >&2; exit 2; }
[ -x "$bin/rtm" ] && [ -x "$bin/rtm-bench" ] || { echo "no release rtm and rtm-bench in $bin (swift build -c release)" >&2; exit 2; }
. scripts/lib.sh
cluster_cleanup() { stop_pids; rm -rf "$work"; }
trap cluster_cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cluster_db="rtm_cluster_bench_$$"
psql -q "$RTM_TEST_POSTGRES_URL" -c "CREATE DATABASE $cluster_db"
cluster_url="${RTM_TEST_POSTGRES_URL%/*}/$cluster_db"
# Leases of NODE_LEASE seconds (default 10, the server's): a machine running many nodes and
# generators on few cores may starve a node long enough to lose its lease (it then ends its sessions).
lease=${NODE_LEASE:-10}
cat > "$work/rtm.json" <<CONF
{"apps": [{"app_id": "0123456789abcdef0123456789abcdef", "messaging_rate_limit": 100000000}],
 "customers": [{"id": "bench", "secret": "bench-secret", "apps": ["*"]}],
 "node_lease_seconds": $lease, "node_lease_renewal_seconds": $(( lease / 4 > 3 ? lease / 4 : 3 ))}
CONF
# start_node INDEX [CPU]: starts node-INDEX (pinned to CPU if given) and waits for its listening line.
# Call it directly, not in $( ): the pid must reach this shell's list, or the cleanup would miss it.
start_node() {
  local pin=(); [ -n "${2:-}" ] && pin=(taskset -c "$2")
  "${pin[@]}" "$bin/rtm" serve --port 0 --data-dir "$work/data-$1" --config "$work/rtm.json" \
    --database-url "$cluster_url" --node-id "node-$1" --log-level error > "$work/node-$1.log" 2>&1 &
  pids+=($!)
  eval "node_pid_$1=$!"
  for _ in $(seq 1 150); do grep -q "^listening on" "$work/node-$1.log" && break; sleep 0.2; done
}
node_url() { sed -n 's|^listening on \(http://127.0.0.1:[0-9]*\)$|\1|p' "$work/node-$1.log" | head -n 1; }
node_pid() { eval "echo \$node_pid_$1"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
