#!/usr/bin/env bash
# The README's OpenAI-client walk-through, as a script CI runs against a live local-runner.
# Usage: examples/openai-walkthrough.sh [BASE_URL]
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:7860}}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
say() { printf '\n# %s\n' "$*"; }
CURL=(curl --silent --show-error --fail-with-body)

say "Speech as OpenAI's endpoint answers it: mp3 by default, streamed as it is spoken"
"${CURL[@]}" "$BASE/v1/audio/speech" -H 'content-type: application/json' \
  -d '{"model":"tts-1","voice":"alloy","input":"Hello there. This streams sentence by sentence."}' \
  --dump-header "$OUT/headers" --output "$OUT/hello.mp3"
grep -i -E '^(content-type|openai-processing-ms|x-speech-engine|x-request-id):' "$OUT/headers"
python3 -c 'import sys; b = open(sys.argv[1], "rb").read(3)
sys.exit(0 if b == b"ID3" or (b[0] == 0xFF and b[1] & 0xE0 == 0xE0) else 1)' "$OUT/hello.mp3" \
  || { echo "not an MP3" >&2; exit 1; }

say "Server-Sent Events: base64 audio deltas, then one done event with usage"
"${CURL[@]}" -N "$BASE/v1/audio/speech" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o-mini-tts","voice":"alloy","input":"Hi.","response_format":"pcm","stream_format":"sse"}' \
  > "$OUT/events"
grep -c '"speech.audio.delta"' "$OUT/events"
grep '"speech.audio.done"' "$OUT/events"

say "Models and voices, as Open WebUI and Home Assistant read them"
"${CURL[@]}" "$BASE/v1/models" | python3 -m json.tool
"${CURL[@]}" "$BASE/v1/audio/voices" | python3 -c 'import json,sys; print([v["id"] for v in json.load(sys.stdin)["voices"]][:15])'

say "Errors use OpenAI's envelope: an unknown voice is 404 with param voice"
status=$(curl --silent --output "$OUT/error.json" --write-out '%{http_code}' "$BASE/v1/audio/speech" \
  -H 'content-type: application/json' -d '{"model":"tts-1","voice":"nobody","input":"Hi."}')
python3 -m json.tool "$OUT/error.json"
[ "$status" = 404 ] || { echo "expected 404, got $status" >&2; exit 1; }
