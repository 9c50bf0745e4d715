#!/usr/bin/env bash
# The README's tour through a 3-node cluster behind nginx (issue 12): three `rtm serve` nodes on one
# PostgreSQL (the one scripts/with-postgres.sh started), nginx (Debian's, installed with apt if
# absent; a throwaway config on 127.0.0.1) balancing REST calls and WebSocket upgrades round-robin
# over them. The first node's first-run lines are followed through nginx: `rtm listen`, then the
# printed curl line (message_delivered), three times, so that the listener and the sender land on
# different nodes. Then a node is stopped and the health checks through nginx still answer.
# Usage: scripts/with-postgres.sh bash scripts/cluster-tour.sh
set -u
cd "$(dirname "$0")/.."
bin="${RTM_BIN:-.build/debug/rtm}"
[ -n "${RTM_TEST_POSTGRES_URL:-}" ] || { echo "run it under scripts/with-postgres.sh" >&2; exit 2; }
if ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d)
pids=(); passed=0; failed=0
. scripts/lib.sh
cleanup() { stop_pids; rm -rf "$work"; }
trap cleanup EXIT
db="rtm_cluster_tour_$$"
psql -q "$RTM_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
url="${RTM_TEST_POSTGRES_URL%/*}/$db"

start_node() { # index: starts it (its pid kept for the cleanup)
  "$bin" serve --port 0 --data-dir "$work/data-$1" --database-url "$url" --node-id "node-$1" > "$work/node-$1.log" 2>&1 &
  pids+=($!)
}
node_port() { sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/node-$1.log" | head -n 1; }
start_node 1   # alone first: its first run creates the app and prints the tour's lines
check "node 1 listens" wait_for "$work/node-1.log" "^listening on http://127.0.0.1:" 30
start_node 2; start_node 3
check "node 2 listens" wait_for "$work/node-2.log" "^listening on http://127.0.0.1:" 30
check "node 3 listens" wait_for "$work/node-3.log" "^listening on http://127.0.0.1:" 30
p1=$(node_port 1); p2=$(node_port 2); p3=$(node_port 3)
check "only the first node prints first-run credentials" bash -c \
  "grep -q 'App Certificate:' '$work/node-1.log' && ! grep -q 'App Certificate:' '$work/node-2.log' && ! grep -q 'App Certificate:' '$work/node-3.log'"

np=$(free_port)
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream rtm { server 127.0.0.1:$p1; server 127.0.0.1:$p2; server 127.0.0.1:$p3; }
  server {
    listen 127.0.0.1:$np;
    location / {
      proxy_pass http://rtm;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_read_timeout 3600s;
    }
  }
}
CONF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" > "$work/nginx/out.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$np/healthz" > /dev/null && break; sleep 0.1; done
check "nginx answers /healthz from the cluster" bash -c "curl -s http://127.0.0.1:$np/healthz | grep -q ok"
sleep 2   # every node's bus listens and the nodes have seen each other

certificate=$(sed -n 's|^Receive:  RTM_APP_CERTIFICATE=\([0-9a-f]*\) swift run rtm listen .*$|\1|p' "$work/node-1.log")
listen=$(sed -n 's|^Receive:  RTM_APP_CERTIFICATE=[0-9a-f]* swift run rtm \(listen .*\)$|\1|p' "$work/node-1.log" | sed "s/127.0.0.1:$p1/127.0.0.1:$np/")
curl_line=$(sed -n 's|^Send:     \(curl .*\)$|\1|p' "$work/node-1.log" | sed "s/127.0.0.1:$p1/127.0.0.1:$np/")
check "the tour's lines point at nginx" bash -c "[[ '$listen' == *':$np/v1/ws'* ]]"
for round in 1 2 3; do
  RTM_APP_CERTIFICATE=$certificate "$bin" $listen --count 1 > "$work/listen-$round.log" 2>&1 &
  listen_pid=$!; pids+=($listen_pid)
  check "round $round: rtm listen logs in through nginx" wait_for "$work/listen-$round.log" "logged in as userB" 20
  sleep 0.5   # the login reaches every node's view
  eval "$curl_line" > "$work/curl-$round.out" 2>&1
  check "round $round: curl through nginx gets message_delivered" grep -q '"code":"message_delivered"' "$work/curl-$round.out"
  check "round $round: rtm listen prints the message" wait_for "$work/listen-$round.log" 'peer_message from=userA text="Hello"' 10
  for _ in $(seq 1 50); do kill -0 $listen_pid 2>/dev/null || break; sleep 0.1; done
done

kill -TERM "${pids[1]}"   # node 2 stops (SIGTERM); nginx passes over it
for _ in $(seq 1 100); do kill -0 "${pids[1]}" 2>/dev/null || break; sleep 0.2; done
check "node 2 stopped gracefully" bash -c "! kill -0 ${pids[1]} 2>/dev/null"
ok=0
for _ in 1 2 3 4 5 6; do curl -s "http://127.0.0.1:$np/readyz" | grep -q '^ready$' && ok=$((ok+1)); done
check "with a node stopped, every /readyz through nginx is answered by a live node" bash -c "[ $ok -eq 6 ]"
echo "cluster tour: $passed passed, $failed failed"
[ "$failed" = 0 ]
