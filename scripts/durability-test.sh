#!/usr/bin/env bash
# Durability: offline messages stored through the REST API survive a SIGKILL of the server; after a
# restart the receiver gets each exactly once, in order. Usage: durability-test.sh [sqlite|postgres]
# (postgres needs RTM_TEST_POSTGRES_URL, as set by scripts/with-postgres.sh).
set -u
backend=${1:-sqlite}
bin="${RTM_BIN:-.build/debug/rtm}"
work=$(mktemp -d)
passed=0; failed=0; pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
check() { local name=$1; shift; if "$@"; then echo "PASS [$backend] $name"; passed=$((passed+1)); else echo "FAIL [$backend] $name"; failed=$((failed+1)); fi; }
wait_for() { for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

args=(--port 0 --data-dir "$work/data")
if [ "$backend" = postgres ]; then
  [ -n "${RTM_TEST_POSTGRES_URL:-}" ] || { echo "FAIL [postgres] RTM_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)"; exit 1; }
  db="rtm_durability_$$"
  psql -q "$RTM_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  args+=(--database-url "${RTM_TEST_POSTGRES_URL%/*}/$db")
fi
start() { "$bin" serve "${args[@]}" > "$1" 2>&1 & pids+=($!); wait_for "$1" "^listening on" 30; }

start "$work/serve1.log"
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve1.log")
app=$(sed -n 's|^  App ID: *||p' "$work/serve1.log")
cert=$(sed -n 's|^  App Certificate: *||p' "$work/serve1.log")
basic=$(printf '%s:%s' "$(sed -n 's|^  Customer ID: *||p' "$work/serve1.log")" "$(sed -n 's|^  Customer Secret: *||p' "$work/serve1.log")" | base64 -w0)
for i in 1 2 3 4 5; do
  curl -s -X POST "http://127.0.0.1:$port/dev/v2/project/$app/rtm/users/sender/peer_messages" -H "Authorization: Basic $basic" \
    -d "{\"destination\":\"receiver\",\"payload\":\"kept-$i\",\"enable_offline_messaging\":true}" >> "$work/stored.out"
  echo >> "$work/stored.out"
done
check "five messages stored as message_offline" test "$(grep -c '"code":"message_offline"' "$work/stored.out")" -eq 5

kill -9 "${pids[0]}"; sleep 0.5
start "$work/serve2.log"
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve2.log")
check "restarted after SIGKILL" test -n "$port"
listen=(listen --url "ws://127.0.0.1:$port/v1/ws" --app-id "$app" --app-certificate "$cert" --user-id receiver)
timeout 30 "$bin" "${listen[@]}" --count 5 > "$work/listen1.log" 2>&1
got=$(grep -o 'text="kept-[0-9]"' "$work/listen1.log" | tr -d '"' | sed 's/text=//' | tr '\n' ' ')
check "receiver gets all five in order, marked offline" test "$got" = "kept-1 kept-2 kept-3 kept-4 kept-5 "
check "each is marked offline" test "$(grep -c ' offline$' "$work/listen1.log")" -eq 5
# Once acknowledged they are gone: the next login sees only a new message.
sleep 0.5
( timeout 30 "$bin" "${listen[@]}" --count 1 > "$work/listen2.log" 2>&1 & echo $! > "$work/listen2.pid" )
wait_for "$work/listen2.log" "logged in as receiver" 20
curl -s -X POST "http://127.0.0.1:$port/dev/v2/project/$app/rtm/users/sender/peer_messages" -H "Authorization: Basic $basic" \
  -d '{"destination":"receiver","payload":"fresh"}' > /dev/null
wait_for "$work/listen2.log" 'text="fresh"' 10
check "nothing is delivered twice" bash -c "! grep -q 'kept-' '$work/listen2.log' && grep -q 'text=\"fresh\"' '$work/listen2.log'"

echo "durability ($backend): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
