#!/usr/bin/env bash
# The whole test suite, from a fresh clone: build; start a throwaway PostgreSQL (scripts/with-postgres.sh);
# run the Swift tests (real servers on ephemeral 127.0.0.1 ports, real WebSocket clients, real SQLite
# and PostgreSQL) and the SIGKILL durability check on both stores; then the README tour; then the docs.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
scripts/with-postgres.sh bash -c '
  set -euo pipefail
  swift test 2>&1 | tee .build/test-output.log
  bash scripts/durability-test.sh sqlite
  bash scripts/durability-test.sh postgres
'
bash scripts/tour-test.sh
bash scripts/docs.sh
