#!/usr/bin/env bash
# Builds the SDK's DocC documentation (the getting-started article embeds Snippets/GettingStarted.swift,
# which `swift build` compiles). Fails on any DocC warning. Output: .build/plugins/Swift-DocC/outputs/.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
swift package --disable-sandbox generate-documentation --target RTMClient 2>&1 | tee "$log" | tail -3
if grep -E "^(warning|error): " "$log" | grep -v "swift-distributed-tracing"; then
  echo "DocC reported problems (above)"; exit 1
fi
