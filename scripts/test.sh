#!/usr/bin/env bash
# The whole test suite, from a fresh clone: build, run the Swift tests (real servers on
# ephemeral 127.0.0.1 ports, real WebSocket clients, real SQLite), then the README tour.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f ../shared/vectors/rtm-tokens.json ] || { echo "missing ../shared/vectors/rtm-tokens.json (the token vectors live beside the repository)"; exit 1; }
swift build
swift test 2>&1 | tee .build/test-output.log
bash scripts/tour-test.sh
bash scripts/docs.sh
