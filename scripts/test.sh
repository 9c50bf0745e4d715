#!/usr/bin/env bash
# The whole test suite, from a fresh clone: build; start a throwaway PostgreSQL (scripts/with-postgres.sh);
# run the Swift tests (real servers on ephemeral 127.0.0.1 ports, real WebSocket clients, real SQLite
# and PostgreSQL; they also replay every kept fuzz input) and the SIGKILL durability check on both
# stores; then the README tour, on one node and through nginx in front of a 3-node cluster; then the docs; then a short fuzz: libFuzzer on each parser (about a
# minute and a half) and the live WebSocket and REST fuzz against a running server. Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
stage() { # name, command...
  local name=$1 started=$SECONDS; shift
  "$@"
  echo "stage $name: $(( SECONDS - started )) s"
}
stage build swift build
stage "tests and durability" scripts/with-postgres.sh bash -c '
  set -euo pipefail
  # At most this many tests at once (Swift Testing runs all at once otherwise): cluster tests start
  # three servers or processes each, and on a 2-core machine the rest starved past their deadlines.
  SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${RTM_TEST_PARALLELISM:-6} swift test 2>&1 | tee .build/test-output.log
  bash scripts/durability-test.sh sqlite
  bash scripts/durability-test.sh postgres
'
stage tour bash scripts/tour-test.sh
stage "cluster tour" scripts/with-postgres.sh bash scripts/cluster-tour.sh
stage docs bash scripts/docs.sh
stage libfuzzer bash scripts/fuzz.sh 15
stage "live fuzz" python3 scripts/live-fuzz.py --bin .build/debug/rtm --seed "${RTM_FUZZ_SEED:-1}" \
  --ws-cases 1500 --rest-cases 1500 --seconds 45
echo "all stages: $SECONDS s"
