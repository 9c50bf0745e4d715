#!/usr/bin/env bash
# Usage: scripts/wrk-publish.sh [--runs N] [--seconds S] [--connections C] BINARY [BINARY...]
#   e.g. scripts/wrk-publish.sh /tmp/rtm-before /tmp/rtm-after
#        scripts/wrk-publish.sh --runs 2 --seconds 3 .build-release/release/rtm
#   defaults: --runs 5 --seconds 10 --connections 32 (S >= 3)
#
# Throughput of the "publish-0" figure measured with wrk (installed with apt if absent): REST POST
# /dev/v2/project/<app>/rtm/users/publisher/channel_messages to a channel nobody joined, Basic auth,
# JSON body with a 64-byte payload, C keep-alive connections each with one request in flight
# (wrk -t1 -cC -dS). Each run is its own fresh `rtm serve --port 0` (pinned to CPU 0: one event
# loop) in a fresh throwaway data dir, with the config of scripts/instructions.sh (one app with a
# high messaging rate limit, one Basic credential); wrk runs pinned to CPU 1, 2 s of warm-up first.
# Runs alternate between the binaries (A B A B ...). A run is INVALID if wrk saw any non-2xx answer
# or socket error. The CPU shares of the server and of wrk come from /proc/PID/stat (utime + stime)
# sampled at 0.5 s into the measured run and 0.5 s before its end, divided by the wall time between:
# wrk well below 100 % while the server is near 100 % shows that the generator was not the ceiling.
# cpu0-others / cpu1-others: the rest of CPU 0 / CPU 1 busy time in that window (/proc/stat user,
# nice, system, irq, softirq, steal, minus the server / wrk): other processes, interrupts (loopback
# softirq work may land here), the hypervisor; near 0 on a quiet machine. A run where either is
# above 10 % is marked NOISY: the server or wrk shared its CPU (still counted; the summary says how
# many). A NOISY run's figure says little: wrk starved on CPU 1 makes the generator the ceiling.
# Prints the machine facts and the command, a line per run, then per binary median, min, max,
# spread = (max - min) / median and the ratio of its median to the first binary's. All traffic on
# 127.0.0.1; every wait is bounded. Exits 1 if any run was INVALID.
set -euo pipefail
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
command_line="$0 $*"
runs=5; seconds=10; connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h|--help) usage ;;
    --*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
for n in "$runs" "$seconds" "$connections"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive integer: $n" >&2; exit 2; }
done
[ "$seconds" -ge 3 ] || { echo "--seconds must be at least 3 (the CPU window leaves 0.5 s at each end)" >&2; exit 2; }
bins=()
for b in "$@"; do
  [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }
  bins+=("$(realpath "$b")")
done
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi

app=0123456789abcdef0123456789abcdef
customer=wrk; secret=wrk-secret
basic="Basic $(printf '%s:%s' "$customer" "$secret" | base64 -w0)"
payload=$(printf 'x%.0s' $(seq 1 64))   # 64 bytes
work=$(mktemp -d /tmp/rtm-wrk-publish.XXXXXX)
server=""; load=""
stop() { # pid: TERM, up to 20 s, then KILL
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  [ -z "$load" ] || stop "$load"
  [ -z "$server" ] || stop "$server"
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cat > "$work/rtm.json" <<CONF
{"apps": [{"app_id": "$app", "messaging_rate_limit": 100000000}],
 "customers": [{"id": "$customer", "secret": "$secret", "apps": ["*"]}]}
CONF
# Method, headers and body set at the top level (no request()/response() functions): wrk builds
# the request once and sends it as is, the cheapest load it can make.
cat > "$work/publish.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "$basic"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"channel_name":"bench","enable_historical_messaging":false,"payload":"$payload"}'
LUA
path="/dev/v2/project/$app/rtm/users/publisher/channel_messages"
pin_server="taskset -c 0"; pin_load="taskset -c 1"
[ "$(nproc)" -ge 2 ] || { pin_server=""; pin_load=""; }
tck=$(getconf CLK_TCK)

cpu_ticks() { # pid: utime + stime (all threads), from /proc/PID/stat (fields 14 and 15)
  local stat; stat=$(cat "/proc/$1/stat") || { echo 0; return; }
  stat=${stat##*) }   # drop "pid (comm) ": comm may hold spaces
  set -- $stat        # now $1 is field 3
  echo $(( ${12} + ${13} ))
}
cpu_busy() { # N: ticks CPU N was busy (user nice system irq softirq steal), from /proc/stat
  awk -v cpu="cpu$1" '$1 == cpu { n = $2 + $3 + $4 + $7 + $8 + $9 } END { print n + 0 }' /proc/stat
}
now() { date +%s.%N; }

start_server() { # bin run-dir: sets server and port
  local bin=$1 dir=$2
  mkdir -p "$dir"
  $pin_server "$bin" serve --port 0 --data-dir "$dir/data" --config "$work/rtm.json" --log-level error \
    > "$dir/serve.log" 2>&1 &
  server=$!
  port=""
  for _ in $(seq 1 150); do   # up to 30 s
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$dir/serve.log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$port" ]; then
    echo "rtm serve did not start ($bin):" >&2; tail -n 30 "$dir/serve.log" >&2; exit 1
  fi
}

run_wrk() { # duration out-file: wrk in the background (sets load); the caller waits
  $pin_load wrk -t1 -c"$connections" -d"$1"s --timeout 5s -s "$work/publish.lua" \
    "http://127.0.0.1:$port$path" > "$2" 2>&1 &
  load=$!
}

wait_wrk() { # out-file: waits for wrk (bounded: its duration + 30 s), fails if it did not finish
  local limit=$(( seconds + 30 )) t=0
  while kill -0 "$load" 2>/dev/null && [ $t -lt $(( limit * 5 )) ]; do sleep 0.2; t=$(( t + 1 )); done
  if kill -0 "$load" 2>/dev/null; then echo "wrk did not finish in ${limit} s" >&2; stop "$load"; load=""; return 1; fi
  local rc=0; wait "$load" || rc=$?; load=""
  [ $rc -eq 0 ] || { echo "wrk failed ($rc):" >&2; cat "$1" >&2; return 1; }
}

sample_answer() { # one request by hand, to show why a run was INVALID
  curl -s -m 5 -o - -w ' (HTTP %{http_code})' -X POST "http://127.0.0.1:$port$path" \
    -H "Authorization: $basic" -H "Content-Type: application/json" \
    --data-binary "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$work/publish.lua")" || true
}

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# machine: nproc $(nproc), ${model:-unknown CPU}, kernel $(uname -r); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
echo "# command: $command_line"
echo "# each run: fresh server ($pin_server BINARY serve --port 0 ...), 2 s warm-up, then:"
echo "#   $pin_load wrk -t1 -c$connections -d${seconds}s --timeout 5s -s publish.lua http://127.0.0.1:PORT$path"
echo "#   body: $(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$work/publish.lua")"
for i in "${!bins[@]}"; do
  echo "# binary $((i + 1)): ${bins[$i]} (sha256 $(sha256sum "${bins[$i]}" | cut -c1-12))"
done
printf '%-4s %-28s %12s %11s %9s %12s %12s %8s %s\n' run binary requests/s server-CPU wrk-CPU cpu0-others cpu1-others non-2xx note
results="$work/results.tsv"
: > "$results"
for run in $(seq 1 "$runs"); do
  for i in "${!bins[@]}"; do
    bin=${bins[$i]}
    dir="$work/run-$run-$i"
    start_server "$bin" "$dir"
    run_wrk 2 "$dir/warmup.txt"; wait_wrk "$dir/warmup.txt"
    run_wrk "$seconds" "$dir/wrk.txt"
    sleep 0.5
    t0=$(now); s0=$(cpu_ticks "$server"); w0=$(cpu_ticks "$load"); b0=$(cpu_busy 0); c0=$(cpu_busy 1)
    sleep $(( seconds - 1 ))
    t1=$(now); s1=$(cpu_ticks "$server"); w1=$(cpu_ticks "$load"); b1=$(cpu_busy 0); c1=$(cpu_busy 1)
    wait_wrk "$dir/wrk.txt"
    out="$dir/wrk.txt"
    rps=$(sed -n 's/^Requests\/sec:[[:space:]]*//p' "$out")
    non2xx=$(sed -n 's/^[[:space:]]*Non-2xx or 3xx responses:[[:space:]]*//p' "$out"); non2xx=${non2xx:-0}
    socket=$(sed -n 's/^[[:space:]]*Socket errors:[[:space:]]*//p' "$out")
    read -r scpu wcpu other0 other1 < <(awk -v s="$((s1 - s0))" -v w="$((w1 - w0))" -v t0="$t0" -v t1="$t1" \
      -v hz="$tck" -v b="$((b1 - b0))" -v c="$((c1 - c0))" 'BEGIN { d = hz * (t1 - t0) / 100
        o0 = (b - s) / d; o1 = (c - w) / d; printf "%.0f %.0f %.0f %.0f\n", s / d, w / d, o0 < 0 ? 0 : o0, o1 < 0 ? 0 : o1 }')
    [ -n "$pin_server" ] || { other0=-; other1=-; }
    note=""
    valid=1; noisy=0
    if [ -n "$pin_server" ] && { [ "$other0" -gt 10 ] || [ "$other1" -gt 10 ]; }; then
      noisy=1; note="NOISY: others on CPU 0/1 $other0/$other1 %"
    fi
    if [ -z "$rps" ]; then valid=0; note="${note:+$note; }INVALID: no Requests/sec in wrk's output"; rps=0; fi
    if [ "$non2xx" != 0 ]; then valid=0; note="${note:+$note; }INVALID: $non2xx non-2xx answers"; fi
    if [ -n "$socket" ]; then valid=0; note="${note:+$note; }INVALID: socket errors $socket"; fi
    if [ $valid = 0 ]; then note="$note; sample answer: $(sample_answer)"; fi
    if ! kill -0 "$server" 2>/dev/null; then
      valid=0; note="${note:+$note; }INVALID: rtm serve exited"; tail -n 30 "$dir/serve.log" >&2
    fi
    stop "$server"; server=""
    printf '%-4s %-28s %12.0f %10s%% %8s%% %11s%% %11s%% %8s %s\n' "$run" "$(basename "$bin")" "$rps" "$scpu" "$wcpu" \
      "$other0" "$other1" "$non2xx" "$note"
    printf '%s\t%s\t%s\t%s\n' "$i" "$rps" "$valid" "$noisy" >> "$results"
  done
done

echo "# summary (valid runs only; spread = (max - min) / median; ratio = median / first binary's median)"
python3 - "$results" "${bins[@]}" <<'PY'
import os, statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n") if line]
bins = sys.argv[2:]
first = None
for i, b in enumerate(bins):
    all_runs = [r for r in rows if int(r[0]) == i]
    ok = sorted(float(r[1]) for r in all_runs if r[2] == "1")
    name = os.path.basename(b)
    if not ok:
        print("%-28s no valid run (%d invalid)" % (name, len(all_runs)))
        if i == 0:
            first = float("nan")
        continue
    med = statistics.median(ok)
    if i == 0:
        first = med
    ratio = med / first if first else float("nan")
    noisy = sum(1 for r in all_runs if r[2] == "1" and r[3] == "1")
    print("%-28s median %10.0f req/s  min %10.0f  max %10.0f  spread %5.1f %%  ratio %.3f  (%d valid of %d, %d of them NOISY)"
          % (name, med, ok[0], ok[-1], 100 * (ok[-1] - ok[0]) / med, ratio, len(ok), len(all_runs), noisy))
PY
awk -F'\t' '$3 == 0 { invalid = 1 } END { exit invalid }' "$results"
