#!/usr/bin/env bash
# The Lambda path for real, without AWS (part of the test command):
#  1. `cargo lambda watch` (PyPI cargo-lambda, pinned; installed without its zig
#     dependency) emulates the Lambda runtime API and function URLs on loopback and runs the
#     `handler` binary in Lambda mode: speech must come back byte-exact in buffered mode and
#     streamed (chunked, in several pieces) in streaming mode;
#  2. `cargo lambda build --release` builds the deployable artefact, whose highest GLIBC
#     symbol version must not pass Amazon Linux 2023's 2.34.
# Expects the runtime assets in ./.cache/models (scripts/test.sh fetches them first).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/lib/prerequisites.sh
cargo_lambda="$(ensure_cargo_lambda "$root")"
export PATH="$(dirname "$cargo_lambda"):$PATH"

work="$(mktemp -d)"
watcher=""
cleanup() {
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "check-lambda: $*" >&2; exit 1; }

# Starts the emulator with the handler in one mode and waits until it answers health.
start_emulator() {
  local streaming="$1" port="$2"
  mkdir -p "$work/data-$port"
  cargo lambda watch --quiet --ignore-changes -p handler --bin handler \
    -A 127.0.0.1 -P "$port" \
    --env-var "SPEECH_STORAGE=file://$work/data-$port" \
    --env-var "SPEECH_MODELS_DIR=$root/.cache/models" \
    --env-var "SPEECH_LAMBDA_STREAMING=$streaming" \
    --env-var "SPEECH_LOG=warn" \
    >"$work/watch-$port.log" 2>&1 &
  watcher=$!
  local base="http://127.0.0.1:$port/lambda-url/handler"
  for _ in $(seq 1 180); do
    if curl -fsS -o /dev/null "$base/api/v1/health" 2>/dev/null; then
      return 0
    fi
    kill -0 "$watcher" 2>/dev/null || { cat "$work/watch-$port.log" >&2; fail "the emulator exited"; }
    sleep 1
  done
  cat "$work/watch-$port.log" >&2
  fail "the emulator did not answer within 180 s"
}

stop_emulator() {
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  watcher=""
}

echo "-- emulator, buffered mode"
start_emulator false 9411
base="http://127.0.0.1:9411/lambda-url/handler"
curl -fsS -D "$work/tts.headers" -o "$work/tts.wav" -X POST "$base/api/v1/tts" \
  -H 'content-type: application/json' \
  -d '{"text":"Hello from the Lambda emulator.","export_formats":["wav"],"project":"lambda"}'
grep -qi '^content-type: audio/wav' "$work/tts.headers" || fail "the speech is not audio/wav"
location="$(grep -i '^content-location:' "$work/tts.headers" | tr -d '\r' | awk '{print $2}')"
[ -n "$location" ] || fail "no Content-Location on the speech"
cmp -s "$work/tts.wav" "$work/data-9411/${location#/}" || fail "the speech is not the stored file, byte for byte"
[ "$(head -c 4 "$work/tts.wav")" = "RIFF" ] || fail "the speech is not a WAV file"
echo "   speech is byte-exact ($(wc -c <"$work/tts.wav") bytes)"
stop_emulator

echo "-- emulator, streaming mode"
start_emulator true 9412
base="http://127.0.0.1:9412/lambda-url/handler"
# A 60 s stored file, so the stream has something to cut in pieces.
mkdir -p "$work/data-9412/outputs/long"
python3 - "$work/data-9412/outputs/long/long.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.05))) for i in range(22050 * 60)))
PY
curl -fsS --raw -D "$work/stream.headers" -o "$work/stream.raw" "$base/outputs/long/long.wav"
grep -qi '^transfer-encoding: chunked' "$work/stream.headers" || fail "the answer was not streamed (no chunked encoding)"
curl -fsS -o "$work/stream.wav" "$base/outputs/long/long.wav"
cmp -s "$work/stream.wav" "$work/data-9412/outputs/long/long.wav" || fail "the streamed file is not the stored one"
echo "   streamed byte-exact ($(wc -c <"$work/stream.wav") bytes, chunked)"
stop_emulator

echo "-- deployable artefact and its GLIBC floor"
cargo lambda build --quiet --release --compiler cargo -p handler --bin handler --output-format zip
zip="$root/target/lambda/handler/bootstrap.zip"
[ -f "$zip" ] || fail "no artefact at $zip"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("bootstrap", sys.argv[2])' "$zip" "$work"
bootstrap="$work/bootstrap"
highest="$(objdump -T "$bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)"
if [ "$(printf '%s\n2.34\n' "$highest" | sort -V | tail -1)" != "2.34" ]; then
  fail "the Lambda artefact needs GLIBC $highest; Amazon Linux 2023 has 2.34"
fi
echo "   bootstrap needs GLIBC $highest (Amazon Linux 2023: 2.34); zip $(du -h "$zip" | cut -f1), binary $(du -h "$bootstrap" | cut -f1)"
