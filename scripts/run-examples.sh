#!/usr/bin/env bash
# Runs every script in examples/ against a fresh local-runner (debug build, temporary
# data directory, free port), then stops it. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -q -p local-runner
workdir=$(mktemp -d)
log="$workdir/runner.log"
# The speech walk-through clones voices with the tiny Chatterbox stand-in bundle.
./target/debug/local-runner --port 0 --storage "file://$workdir/data" --log warn \
  --chatterbox-dir "$PWD/models/tests/fixtures/chatterbox-standins/original" >"$workdir/stdout" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
  base=$(grep -o 'http://[0-9.:]*' "$workdir/stdout" 2>/dev/null || true)
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "local-runner did not start:"; cat "$log"; exit 1; }
for example in examples/*.sh; do
  echo "--- $example against $base"
  bash "$example" "$base" >"$workdir/example.out" 2>&1 || { cat "$workdir/example.out"; echo "FAILED: $example"; exit 1; }
  echo "ok"
done
