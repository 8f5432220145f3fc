#!/usr/bin/env bash
# Runs every script in examples/ against a fresh local-runner (debug build, temporary
# data directory, free port), then stops it. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/local-runner.sh
cargo build --locked -q -p local-runner
workdir=$(mktemp -d)
trap 'stop_local_runner; rm -rf "$workdir"' EXIT
# The speech walk-through clones voices with the tiny Chatterbox stand-in bundle.
start_local_runner "$workdir" --chatterbox-dir "$PWD/models/tests/fixtures/chatterbox-standins/original"
base="$LOCAL_RUNNER_URL"
for example in examples/*.sh; do
  echo "--- $example against $base"
  bash "$example" "$base" >"$workdir/example.out" 2>&1 || { cat "$workdir/example.out"; echo "FAILED: $example"; exit 1; }
  echo "ok"
done
