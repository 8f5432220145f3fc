#!/usr/bin/env bash
# The Lambda path for real, without AWS (part of the test command):
#  1. `cargo lambda watch` (PyPI cargo-lambda, pinned; installed without its zig
#     dependency) emulates the Lambda runtime API and function URLs on loopback and runs the
#     `handler` binary in Lambda mode: speech must come back byte-exact in buffered mode and
#     streamed (chunked, in several pieces) in streaming mode;
#  2. with SPEECH_JOB_QUEUE pointing at moto's SQS server on loopback, a job accepted
#     through the function URL is a message; invoking the function with it as an SQS event
#     (what the event source mapping does) runs the job to completion and answers an empty
#     `batchItemFailures`;
#  3. `cargo lambda build --release` builds the deployable artefact, whose highest GLIBC
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
moto=""
cleanup() {
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; fi
  if [ -n "$moto" ]; then kill "$moto" 2>/dev/null || true; wait "$moto" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "check-lambda: $*" >&2; exit 1; }

# Starts the emulator with the handler in one mode and waits until it answers health.
start_emulator() {
  local streaming="$1" port="$2" extra=()
  shift 2
  for variable in "$@"; do extra+=(--env-var "$variable"); done
  mkdir -p "$work/data-$port"
  cargo lambda watch --quiet --ignore-changes -p handler --bin handler \
    -A 127.0.0.1 -P "$port" \
    --env-var "SPEECH_STORAGE=file://$work/data-$port" \
    --env-var "SPEECH_MODELS_DIR=$root/.cache/models" \
    --env-var "SPEECH_LAMBDA_STREAMING=$streaming" \
    --env-var "SPEECH_LOG=warn" \
    "${extra[@]}" \
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

echo "-- emulator, a long-form job through the SQS event source (moto on loopback)"
ensure_sqs_test_server "$root"
"$SPEECH_TEST_MOTO_SERVER" -H 127.0.0.1 -p 9414 >"$work/moto.log" 2>&1 &
moto=$!
sqs_python="$(dirname "$SPEECH_TEST_MOTO_SERVER")/python"
export AWS_ACCESS_KEY_ID=speechtest AWS_SECRET_ACCESS_KEY=speechtest-secret AWS_DEFAULT_REGION=us-east-1
for _ in $(seq 1 60); do curl -fsS -o /dev/null http://127.0.0.1:9414/moto-api/ 2>/dev/null && break; sleep 0.5; done
queue="$("$sqs_python" -c 'import boto3; print(boto3.client("sqs", endpoint_url="http://127.0.0.1:9414").create_queue(QueueName="jobs")["QueueUrl"])')"
start_emulator false 9413 "SPEECH_JOB_QUEUE=$queue" "SPEECH_JOB_QUEUE_ACCESS_KEY_ID=speechtest" \
  "SPEECH_JOB_QUEUE_SECRET_ACCESS_KEY=speechtest-secret" "SPEECH_JOB_QUEUE_REGION=us-east-1"
base="http://127.0.0.1:9413/lambda-url/handler"
job="$(curl -fsS -X POST "$base/api/v1/jobs" -H 'content-type: application/json' \
  -d '{"title":"Queued","text":"# One\nThe first chapter.\n\n# Two\nThe second chapter.","format":"markdown","export_formats":["wav"]}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])')"
# The event source mapping: receive the job's message and hand it over as an SQS event.
"$sqs_python" - "$queue" "$work/event.json" "$work/receipt" <<'PY'
import json, sys, boto3
sqs = boto3.client("sqs", endpoint_url="http://127.0.0.1:9414")
messages = sqs.receive_message(QueueUrl=sys.argv[1], WaitTimeSeconds=5).get("Messages", [])
assert len(messages) == 1, f"expected the job's one message, got {messages}"
m = messages[0]
json.dump({"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
    "body": m["Body"], "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
    "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs", "awsRegion": "us-east-1"}]},
    open(sys.argv[2], "w"))
open(sys.argv[3], "w").write(m["ReceiptHandle"])
PY
answer="$(cargo lambda invoke handler --invoke-address 127.0.0.1 --invoke-port 9413 \
  --data-file "$work/event.json" --output-format json)"
[ "$(echo "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["batchItemFailures"])')" = "[]" ] \
  || fail "the SQS invocation answered $answer, not an empty batchItemFailures"
"$sqs_python" -c 'import sys, boto3; boto3.client("sqs", endpoint_url="http://127.0.0.1:9414").delete_message(QueueUrl=sys.argv[1], ReceiptHandle=open(sys.argv[2]).read())' "$queue" "$work/receipt"
status="$(curl -fsS "$base/api/v1/jobs/$job" | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["status"], len(j["outputs"]))')"
[ "$status" = "completed 3" ] || fail "the job is '$status' after its SQS invocation, not completed with 3 outputs"
echo "   job $job ran in one SQS invocation: two chapters and the book"
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
