#!/usr/bin/env bash
# The README's concatenation walk-through, as a script CI runs against a live
# local-runner. Usage: examples/concat-walkthrough.sh [BASE_URL]
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:7860}}"
AUDIO="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/audio"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
say() { printf '\n# %s\n' "$*"; }
CURL=(curl --silent --show-error --fail-with-body)

say "Mixed: two uploads (one used twice) and a silence, written as mp3 and wav into project demo; JSON answer"
"${CURL[@]}" -X POST "$BASE/api/v1/concat/mixed?response_mode=url" \
  -F "uploaded_files=@$AUDIO/tone.m4a" -F "uploaded_files=@$AUDIO/tone.ogg" \
  -F 'request_json={"segments":[{"type":"upload","index":0},{"type":"silence","source":"(500ms)"},
       {"type":"upload","index":1},{"type":"upload","index":0}],
       "export_formats":["mp3","wav"],"project":"demo","output_filename":"intro.wav"}' \
  | python3 -m json.tool

say "Concat server files with silence tokens and seeded natural pauses; stream the first format"
"${CURL[@]}" -X POST "$BASE/api/v1/concat" -H 'content-type: application/json' \
  -d '{"files":["demo/intro.wav","(1.5s)","demo/intro.mp3","demo/intro.wav"],
       "pause_duration_ms":600,"pause_variation_ms":200,"seed":7,"crossfade_ms":0,
       "export_formats":["flac","opus"],"project":"demo"}' \
  --dump-header "$OUT/headers" --output "$OUT/joined.flac"
grep -i -E '^(content-type|content-disposition|x-alternative-formats):' "$OUT/headers"
[ -s "$OUT/joined.flac" ] || { echo "empty audio" >&2; exit 1; }

say "A malformed silence token is a 422 naming it"
status=$(curl --silent --output "$OUT/error.json" --write-out '%{http_code}' -X POST "$BASE/api/v1/concat" \
  -H 'content-type: application/json' -d '{"files":["demo/intro.wav","(1 s)"]}')
python3 -m json.tool "$OUT/error.json"
[ "$status" = 422 ] || { echo "expected 422, got $status" >&2; exit 1; }

say "The outputs of project demo, newest first"
"${CURL[@]}" "$BASE/api/v1/outputs?project=demo&generation_type=concat" | python3 -m json.tool
