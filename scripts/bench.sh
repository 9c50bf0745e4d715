#!/usr/bin/env bash
# Side by side: nginx+nchan (installed with apt if absent; a throwaway config, one worker, 127.0.0.1)
# and swift-rtm (release build, SQLite default), the same scenarios run alternately by rtm-bench,
# each figure printed with the ratio swift-rtm / nchan. Server pinned to CPU 0, load to CPU 1.
# Usage: scripts/bench.sh [quick]   (quick: shorter runs, fewer connections)
#        BENCH_ONLY="publish connections" scripts/bench.sh   (only those scenarios, for iterating)
#        BENCH_LATENCY_ROUNDS=5 scripts/bench.sh   (latency rounds; default 3, quick 1; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
dur=10; conns=5000; fan=1000
latency_rounds=${BENCH_LATENCY_ROUNDS:-3}
if [ "$mode" = quick ]; then dur=3; conns=1000; fan=200; latency_rounds=${BENCH_LATENCY_ROUNDS:-1}; fi
if ! [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
fi
if [ -z "${BENCH_BIN:-}" ]; then
  swift build -c release --scratch-path .build-release --product rtm >&2
  swift build -c release --scratch-path .build-release --product rtm-bench >&2
fi
bin=${BENCH_BIN:-.build-release/release}
work=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
. scripts/lib.sh   # free_port
pin_server="taskset -c 0"; pin_load="taskset -c 1"
[ "$(nproc)" -ge 2 ] || { pin_server=""; pin_load=""; }
# rtm serve and rtm-bench size their event loops from their CPU masks: one each when pinned.

# nginx + nchan, one worker.
nport=$(free_port); mkdir -p "$work/nginx/tmp"
cat > "$work/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 1;
worker_rlimit_nofile 200000;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 200000; }
http {
  access_log off;
  keepalive_requests 100000000;   # the generator keeps its connections for the whole run
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nport backlog=65535;
    location ~ ^/pub/(\w+)$ { nchan_publisher; nchan_channel_id \$1; }
    location ~ ^/sub/(\w+)$ { nchan_subscriber websocket; nchan_channel_id \$1; }
    location = /trivial { return 200 "ok"; }
  }
}
CONF
start_nginx() {
  $pin_server nginx -c "$work/nginx/nginx.conf" & pids+=($!)
  nmaster=$!
  for _ in $(seq 1 50); do npid=$(pgrep -P $nmaster nginx | head -n 1 || true); [ -n "$npid" ] && break; sleep 0.1; done
  # npid is nginx's one worker process: the one that does the work, whose CPU and memory count.
}
start_nginx

# swift-rtm: an app without certificate and a Basic credential.
rport=$(free_port)
cat > "$work/rtm.yaml" <<CONF
apps:
  - app_id: 0123456789abcdef0123456789abcdef
    messaging_rate_limit: 100000000   # the benchmark measures the server, not its 500/s default limit
customers:
  - id: bench
    secret: bench-secret
CONF
start_rtm() {
  $pin_server $bin/rtm serve --port "$rport" --data-dir "$work/rtm-data" --config "$work/rtm.yaml" --log-level warning > "$work/rtm.log" 2>&1 & pids+=($!)
  rpid=$!
  for _ in $(seq 1 100); do grep -q "^listening" "$work/rtm.log" && break; sleep 0.1; done
  sleep 0.5
}
start_rtm
# Fresh processes for the memory scenario: memory freed by earlier scenarios stays in each process
# (reused by the next connections) and would hide what connections cost.
restart_servers() {
  kill "$nmaster" "$rpid" 2>/dev/null || true
  wait "$nmaster" "$rpid" 2>/dev/null || true
  rm -f "$work/rtm.log"
  start_nginx
  start_rtm
}

run() { # target scenario label args...
  local target=$1 scenario=$2 label=$3; shift 3
  local port=$rport pid=$rpid
  if [ "$target" != rtm ]; then port=$nport; pid=$npid; fi
  sleep 2   # let the previous scenario's teardown (closes, logouts, event-log writes) finish, on both servers
  $pin_load $bin/rtm-bench "$scenario" --target "$target" --url "http://127.0.0.1:$port" --server-pid "$pid" --label "$label" "$@"
}
results="$work/results.jsonl"
wanted() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
both() { # scenario label args... (alternating: nchan then rtm)
  wanted "$1" || return 0
  run nchan "$@" | tee -a "$results"
  run rtm "$@" | tee -a "$results"
}
wanted publish && run trivial publish ceiling --duration "$dur" --concurrency 64 | tee -a "$results"
both publish "publish-0-subs" --duration "$dur" --concurrency 64
both publish "publish-100-subs" --duration "$dur" --concurrency 64 --subscribers 100
both fanout "fanout-$fan" --duration "$dur" --concurrency 4 --subscribers "$fan"
# Latency is the noisiest figure on a shared VM: several alternating rounds, the table shows medians.
for _ in $(seq 1 "$latency_rounds"); do
  both latency "latency-200ps-10subs" --duration "$dur" --rate 200 --subscribers 10
  both latency "latency-200ps-1sub" --duration "$dur" --rate 200 --subscribers 1   # a peer message's shape: one receiver
done
wanted ack && run rtm ack "ack-round-trip" --count 2000 | tee -a "$results"
if wanted connections; then restart_servers; fi
both connections "idle-$conns" --subscribers "$conns"
python3 scripts/bench-table.py "$results"
