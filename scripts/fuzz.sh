#!/usr/bin/env bash
# Runs every libFuzzer entry (Sources/RTMFuzzing, built into Fuzz/Targets/rtm-fuzz-target) for SECONDS
# each, starting from its kept seed corpus (Fuzz/corpus/<entry>), and a canary that must crash.
#
#   scripts/fuzz.sh [SECONDS]            (default 30; the entries run one after another)
#   FUZZ_TARGETS="json-parser token-007" scripts/fuzz.sh 60     (a subset)
#
# Fails when an entry crashes (the input is saved in Fuzz/crashes/<entry>/, which the ordinary tests
# replay: fix the defect, keep the file), when an entry ran 0 inputs, when its coverage did not grow
# beyond what the seed corpus reached, or when the canary does not crash (then the binary is not
# instrumented, or crashes go unseen). Prints each entry's inputs, cov: and ft: (libFuzzer's edge and
# feature counts, at the seed corpus and at the end). Logs and the grown corpora stay in .build-fuzz/runs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=${FUZZ_TARGETS:-"json-parser request-parser token-006 token-007 rest-fast-path"}
scratch=.build-fuzz
runs=$scratch/runs

# Both instrumentations must be in the binary: --sanitize=fuzzer makes SwiftPM link libFuzzer's main,
# -Xswiftc adds coverage and ASan to every module (two --sanitize flags would keep only one).
start=$(date +%s); mkdir -p "$scratch"
RTM_FUZZ=1 swift build --product rtm-fuzz-target --scratch-path "$scratch" \
  --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address > "$scratch/build.log" 2>&1 \
  || { tail -30 "$scratch/build.log"; echo "fuzz build failed"; exit 1; }
binary=$(RTM_FUZZ=1 swift build --product rtm-fuzz-target --scratch-path "$scratch" --sanitize=fuzzer \
  -Xswiftc -sanitize=fuzzer,address --show-bin-path)/rtm-fuzz-target
echo "fuzz build: $(( $(date +%s) - start )) s ($binary)"
rm -rf "$runs"; mkdir -p "$runs"

# Without SWIFT_BACKTRACE=enable=no a crash leaves Swift's backtracer holding the output and the run hangs.
run() { # entry, seconds, corpus dirs...
  local entry=$1 time=$2; shift 2
  RTM_FUZZ_TARGET=$entry SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 \
    timeout -k 10 $(( time + 120 )) "$binary" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -detect_leaks=0 -artifact_prefix="$runs/$entry-" "$@" > "$runs/$entry.log" 2>&1
}
field() { # log, line pattern, field name: the value after "name:" on the last matching line
  grep -a "$2" "$1" | tail -1 | sed -n "s/.*$3: *\([0-9]*\).*/\1/p"
}

failed=0
printf '%-16s %12s %16s %16s  %s\n' entry inputs "cov: seed→end" "ft: seed→end" result
for entry in $targets; do
  [ -d "Fuzz/corpus/$entry" ] || { echo "no seed corpus Fuzz/corpus/$entry"; failed=1; continue; }
  mkdir -p "$runs/$entry-corpus"
  status=0; run "$entry" "$seconds" "$runs/$entry-corpus" "Fuzz/corpus/$entry" || status=$?
  log=$runs/$entry.log
  inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  seed_cov=$(field "$log" "INITED" cov); seed_ft=$(field "$log" "INITED" ft)
  end_cov=$(field "$log" "cov:" cov); end_ft=$(field "$log" "ft:" ft)
  result=ok
  crash=$(ls "$runs/$entry"-crash-* "$runs/$entry"-leak-* "$runs/$entry"-timeout-* "$runs/$entry"-oom-* 2>/dev/null | head -1 || true)
  if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
    result="CRASH (exit $status)"
    if [ -n "$crash" ]; then
      mkdir -p "Fuzz/crashes/$entry"
      kept="Fuzz/crashes/$entry/$(basename "$crash" | sed "s/^$entry-//")"
      cp "$crash" "$kept"
      result="$result, input kept in $kept"
    fi
    grep -a -m3 -E "Fatal error|ERROR: AddressSanitizer|SUMMARY|deadly signal" "$log" | sed 's/^/    /' || true
    failed=1
  elif [ -z "$inputs" ] || [ "$inputs" -eq 0 ]; then
    result="FAIL: ran 0 inputs"; failed=1
  elif [ -z "$seed_cov" ] || [ -z "$end_cov" ] || [ "$end_cov" -le "$seed_cov" ]; then
    result="FAIL: coverage did not grow from the seed corpus"; failed=1
  fi
  printf '%-16s %12s %16s %16s  %s\n' "$entry" "${inputs:-0}" "${seed_cov:-?}→${end_cov:-?}" "${seed_ft:-?}→${end_ft:-?}" "$result"
done

# The canary traps on inputs starting with "FUZ": coverage guidance finds them in seconds.
# A fresh corpus seeded with "FU" each run: one run found no crash in 157,027 inputs from a corpus an
# earlier run had left, so the search starts two steps in and the last byte is one mutation away.
rm -rf "$runs/canary-corpus"; mkdir -p "$runs/canary-corpus"; printf 'FU' > "$runs/canary-corpus/seed"
status=0; run canary "$(( seconds > 60 ? 60 : (seconds < 20 ? 20 : seconds) ))" "$runs/canary-corpus" || status=$?
inputs=$(grep -a -o '^#[0-9]*' "$runs/canary.log" | tail -1 | tr -d '#')
if [ "$status" -ne 0 ] && ls "$runs"/canary-crash-* > /dev/null 2>&1 && grep -aq "the canary found its input" "$runs/canary.log"; then
  printf '%-16s %12s %16s %16s  %s\n' canary "${inputs:-?}" - - "crashed as it must"
else
  printf '%-16s %12s %16s %16s  %s\n' canary "${inputs:-?}" - - "FAIL: the canary did not crash (exit $status)"
  failed=1
fi
echo "fuzzing: $(( $(date +%s) - start )) s in all; logs in $runs"
exit $failed
