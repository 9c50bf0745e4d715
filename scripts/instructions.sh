#!/usr/bin/env bash
# Usage: scripts/instructions.sh RTM_BINARY [--keep DIR] [instructions-load.py options...]
#   e.g. scripts/instructions.sh .build/release/rtm
#        scripts/instructions.sh /tmp/rtm-before --keep /tmp/cg-before --only publish0,fanout
#   load options: --requests 20000 --connections 4 --peers 2000 --subscribers 1000 --publishes 3
#                 --windows 8 --repeats 3 --only publish0,peer,fanout
#
# Callgrind instruction counts of a release `rtm serve`: per REST publish to a channel with no
# subscriber, per delivery of a channel fan-out, per peer message to an online receiver (which
# acks). The server runs under `valgrind --tool=callgrind --instr-atstart=no --dump-instr=no`
# (pinned to CPU 0: one event loop), in a throwaway data dir with an app, a Basic credential and a
# high messaging rate limit; scripts/instructions-load.py (outside valgrind, CPU 1) warms each
# figure up, then opens callgrind's window (callgrind_control -z, -i on) around each repeat's load
# and dumps it (-i off, -d). Each figure prints a line per repeat (instructions in the window /
# count) and a summary (median, min, max, spread = (max - min) / median). With --keep DIR the dumps
# are kept there for callgrind_annotate --inclusive=yes. All traffic on 127.0.0.1; every wait is bounded.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "$1"); shift
keep=""
if [ "${1:-}" = --keep ]; then keep=$2; shift 2; fi
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || {
  echo "valgrind is needed: apt-get install valgrind" >&2; exit 2; }

work=$(mktemp -d /tmp/rtm-instructions.XXXXXX)
dumps=${keep:-$work/dumps}
mkdir -p "$dumps"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# valgrind 3.19 cannot read the DWARF 5 debug info Swift 6 writes ("unhandled dwarf2 abbrev form code
# 0x25 ... Possibly corrupted debuginfo file"): it runs a copy without debug info (symbols kept,
# so callgrind_annotate still names functions; swift demangle reads them).
strip --strip-debug -o "$work/rtm" "$bin"
# valgrind 3.19 writes into the mask a client passes to sigsuspend (to keep its own signal out of it);
# libdispatch's main queue waits in sigsuspend on a `static const sigset_t`, in read-only memory, and
# valgrind dies of SIGSEGV ("VALGRIND INTERNAL ERROR ... vgPlain_sigdelset"). A preloaded sigsuspend
# hands the kernel a writable copy; it is called once, at start, and costs nothing measured.
cat > "$work/sigsuspend-copy.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, (long)(_NSIG / 8));
}
C
cc -shared -fPIC -O2 -o "$work/sigsuspend-copy.so" "$work/sigsuspend-copy.c"

cat > "$work/rtm.json" <<CONF
{"apps": [{"app_id": "0123456789abcdef0123456789abcdef", "messaging_rate_limit": 100000000}],
 "customers": [{"id": "instructions", "secret": "instructions-secret", "apps": ["*"]}]}
CONF
pin_server="taskset -c 0"; pin_load="taskset -c 1"
[ "$(nproc)" -ge 2 ] || { pin_server=""; pin_load=""; }
LD_PRELOAD="$work/sigsuspend-copy.so" $pin_server valgrind --tool=callgrind --instr-atstart=no --dump-instr=no --vgdb=yes \
  --callgrind-out-file="$dumps/callgrind.out.%p" --log-file="$work/valgrind.log" \
  "$work/rtm" serve --port 0 --data-dir "$work/data" --config "$work/rtm.json" --log-level error \
  > "$work/serve.log" 2>&1 &
server=$!
port=""
for _ in $(seq 1 600); do   # up to 120 s: the server starts ~50x slower under valgrind
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$port" ]; then
  echo "rtm serve did not start:" >&2; tail -n 30 "$work/serve.log" "$work/valgrind.log" >&2; exit 1
fi
echo "# $(basename "$bin") $(sha256sum "$bin" | cut -c1-12), valgrind $(valgrind --version | sed 's/valgrind-//'), port $port" >&2
status=0
$pin_load python3 "$here/instructions-load.py" --port "$port" --pid "$server" --dumps "$dumps" "$@" || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  echo "rtm serve exited during the run:" >&2; tail -n 30 "$work/serve.log" >&2; status=1
fi
exit $status
