#!/usr/bin/env bash
# Runs the README's five-minute tour as a newcomer would, with the built `rtm` binary:
# first-run bootstrap, `rtm listen`, the printed curl line (message_delivered), a restart that
# prints only the App ID, and a graceful SIGTERM. Everything stays on 127.0.0.1.
set -u
bin="${RTM_BIN:-.build/debug/rtm}"
work=$(mktemp -d)
passed=0; failed=0
pids=()
. "$(dirname "$0")/lib.sh"
cleanup() { stop_pids; rm -rf "$work"; }
trap cleanup EXIT
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

"$bin" serve --port 0 --data-dir "$work/data" > "$work/serve1.log" 2>&1 & pids+=($!)
check "server prints its listening line" wait_for "$work/serve1.log" "^listening on http://127.0.0.1:" 30
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve1.log")
check "first run prints the app credentials once" grep -q "App Certificate:" "$work/serve1.log"
check "first run prints a curl line" grep -q "^Send:     curl" "$work/serve1.log"

check "the data directory is private (0700) and the database files 0600" bash -c \
  "[ \$(stat -c %a '$work/data') = 700 ] && [ \$(stat -c %a '$work/data/rtm.sqlite') = 600 ] && [ \$(stat -c %a '$work/data/rtm.sqlite-wal') = 600 ] && [ \$(stat -c %a '$work/data/rtm.sqlite-shm') = 600 ]"
check "the Receive line passes the certificate in the environment, not in argv" grep -q "^Receive:  RTM_APP_CERTIFICATE=[0-9a-f]\{32\} swift run rtm listen " "$work/serve1.log"
receive_certificate=$(sed -n 's|^Receive:  RTM_APP_CERTIFICATE=\([0-9a-f]*\) swift run rtm listen .*$|\1|p' "$work/serve1.log")
listen=$(sed -n 's|^Receive:  RTM_APP_CERTIFICATE=[0-9a-f]* swift run rtm \(listen .*\)$|\1|p' "$work/serve1.log")
RTM_APP_CERTIFICATE=$receive_certificate "$bin" $listen --count 1 > "$work/listen.log" 2>&1 & listen_pid=$!; pids+=($listen_pid)
check "rtm listen logs in" wait_for "$work/listen.log" "logged in as userB" 20
curl_line=$(sed -n 's|^Send:     \(curl .*\)$|\1|p' "$work/serve1.log")
eval "$curl_line" > "$work/curl.out" 2>&1
check "curl gets message_delivered" grep -q '"code":"message_delivered"' "$work/curl.out"
check "rtm listen prints the message" wait_for "$work/listen.log" 'peer_message from=userA text="Hello"' 10
for _ in $(seq 1 50); do kill -0 $listen_pid 2>/dev/null || break; sleep 0.1; done
check "rtm listen exits after --count messages" bash -c "! kill -0 $listen_pid 2>/dev/null"

app_id=$(sed -n 's|^  App ID: *||p' "$work/serve1.log")
certificate=$(sed -n 's|^  App Certificate: *||p' "$work/serve1.log")
# The certificate reaches `rtm token` as a flag, from a file (0600) or from the environment.
printf '%s\n' "$certificate" > "$work/certificate"; chmod 600 "$work/certificate"
token_by_flag() { "$bin" token --app-id "$app_id" --app-certificate "$certificate" --user-id userA --format "$1"; }
token_by_file() { "$bin" token --app-id "$app_id" --app-certificate-file "$work/certificate" --user-id userA --format "$1"; }
token_by_env() { RTM_APP_CERTIFICATE=$certificate "$bin" token --app-id "$app_id" --user-id userA --format "$1"; }
for way in flag file env; do for format in 007 006; do
  token=$(token_by_$way $format)
  curl -s -X POST "http://127.0.0.1:$port/dev/v2/project/$app_id/rtm/users/userA/peer_messages" \
    -H "x-agora-token: $token" -H "x-agora-uid: userA" -d '{"destination":"nobody","payload":"hi"}' > "$work/token.out"
  check "an rtm token ($format, certificate by $way) authenticates a REST call" grep -q '"code":"message_offline"' "$work/token.out"
done; done
check "giving the certificate both as a flag and as a file is refused" bash -c \
  "! '$bin' token --app-id '$app_id' --app-certificate '$certificate' --app-certificate-file '$work/certificate' --user-id u 2> '$work/both.err' && grep -q 'not both' '$work/both.err'"
: > "$work/empty"
check "an empty certificate file is refused with its name" bash -c \
  "! '$bin' token --app-id '$app_id' --app-certificate-file '$work/empty' --user-id u 2> '$work/empty.err' && grep -q 'is empty' '$work/empty.err'"

# Apps and credentials created with the CLI while the server runs are usable at once.
"$bin" app create --data-dir "$work/data" > "$work/app.out"
new_app=$(sed -n 's|^App ID: *||p' "$work/app.out"); new_cert=$(sed -n 's|^App Certificate: *||p' "$work/app.out")
"$bin" credential create --data-dir "$work/data" --app "$new_app" > "$work/cred.out"
new_basic=$(printf '%s:%s' "$(sed -n 's|^Customer ID: *||p' "$work/cred.out")" "$(sed -n 's|^Customer Secret: *||p' "$work/cred.out")" | base64 -w0)
curl -s -X POST "http://127.0.0.1:$port/dev/v2/project/$new_app/rtm/users/a/peer_messages" -H "Authorization: Basic $new_basic" \
  -d '{"destination":"b","payload":"hi"}' > "$work/new.out"
check "an app and credential made by the CLI work on the running server" grep -q '"code":"message_offline"' "$work/new.out"
sed -n 's|^Customer Secret: *||p' "$work/cred.out" > "$work/secret"; chmod 600 "$work/secret"
"$bin" send peer --url "http://127.0.0.1:$port" --app-id "$new_app" --customer-id "$(sed -n 's|^Customer ID: *||p' "$work/cred.out")" \
  --customer-secret-file "$work/secret" --from a --to b --payload hi > "$work/send-file.out" 2>&1
check "rtm send reads the customer secret from a file" grep -q '^message_offline$' "$work/send-file.out"
RTM_CUSTOMER_SECRET=$(cat "$work/secret") "$bin" send peer --url "http://127.0.0.1:$port" --app-id "$new_app" \
  --customer-id "$(sed -n 's|^Customer ID: *||p' "$work/cred.out")" --from a --to b --payload hi > "$work/send-env.out" 2>&1
check "rtm send reads the customer secret from RTM_CUSTOMER_SECRET" grep -q '^message_offline$' "$work/send-env.out"
curl -s -X POST "http://127.0.0.1:$port/dev/v2/project/$app_id/rtm/users/a/peer_messages" -H "Authorization: Basic $new_basic" \
  -d '{"destination":"b","payload":"hi"}' > "$work/other.out"
check "a credential limited to one app is refused for another" grep -q '"code":"unauthorized"' "$work/other.out"
"$bin" app list --data-dir "$work/data" > "$work/list.out"
check "rtm app list shows both apps without certificates" bash -c "grep -q '$new_app' '$work/list.out' && grep -q '$app_id' '$work/list.out' && ! grep -q '$new_cert' '$work/list.out'"

kill -TERM "${pids[0]}"
for _ in $(seq 1 100); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the server" bash -c "! kill -0 ${pids[0]} 2>/dev/null"

# A data directory left readable by an earlier version is made private again at start.
chmod 755 "$work/data"; chmod 644 "$work/data/rtm.sqlite"
"$bin" serve --port 0 --data-dir "$work/data" > "$work/serve2.log" 2>&1 & pids+=($!)
check "second run listens" wait_for "$work/serve2.log" "^listening on" 30
check "second run makes a 0755 data dir 0700 and a 0644 database 0600" bash -c \
  "[ \$(stat -c %a '$work/data') = 700 ] && [ \$(stat -c %a '$work/data/rtm.sqlite') = 600 ]"
check "second run prints only the App ID" bash -c "grep -q '^App ID:' '$work/serve2.log' && ! grep -q 'Certificate\\|Secret' '$work/serve2.log'"
port2=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve2.log")
"$bin" listen --url "ws://127.0.0.1:$port2/v1/ws" --app-id "$app_id" --app-certificate-file "$work/certificate" --user-id watcher \
  > "$work/listen2.log" 2>&1 & pids+=($!)
wait_for "$work/listen2.log" "logged in as watcher" 20
kill -TERM "${pids[-2]}" 2>/dev/null
check "shutdown tells clients RECONNECTING/INTERRUPTED" wait_for "$work/listen2.log" "connection_state state=4 reason=5" 10

# A config file holding a secret that other users may read is warned about (the server still starts).
printf 'customers:\n  - id: 4259477b83624f4c9d3bd2fd6d1f5c2d\n    secret: 8f2c0d4e1b7a4c55a1d0e6f3b2c9a718\n' > "$work/rtm.yaml"
chmod 644 "$work/rtm.yaml"
"$bin" serve --port 0 --data-dir "$work/data3" --config "$work/rtm.yaml" > "$work/serve3.log" 2>&1 & pids+=($!)
check "a readable config file with secrets is warned about" wait_for "$work/serve3.log" "rtm: warning: .*rtm.yaml holds app certificates or customer secrets .*chmod 600" 30
check "the warning does not print the secret" bash -c "! grep -q 8f2c0d4e1b7a4c55a1d0e6f3b2c9a718 '$work/serve3.log'"
kill -TERM "${pids[-1]}" 2>/dev/null

echo "tour: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
