#!/usr/bin/env bash
# The README's speech walk-through, as a script CI runs against a live local-runner:
# text to speech with the built-in Piper voice, then voice cloning and voice conversion
# with Chatterbox (CI runs it with the tiny stand-in bundle, so the "speech" of the
# cloning steps is test tones; with a real bundle it is the uploaded voice).
# Usage: examples/speech-walkthrough.sh [BASE_URL]
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:7860}}"
AUDIO="$(cd "$(dirname "$0")/.." && pwd)/models/tests/fixtures/chatterbox-standins"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
say() { printf '\n# %s\n' "$*"; }
CURL=(curl --silent --show-error --fail-with-body)

say "Text to speech with the built-in voice: the WAV comes back, the MP3 is listed in X-Alternative-Formats"
"${CURL[@]}" -X POST "$BASE/api/v1/tts" -H 'content-type: application/json' \
  -d '{"text":"Hello world. This is the speech API speaking.","project":"demo"}' \
  --dump-header "$OUT/headers" --output "$OUT/hello.wav"
grep -i -E '^(content-type|content-disposition|x-alternative-formats):' "$OUT/headers"
head -c 4 "$OUT/hello.wav" | grep -q RIFF || { echo "not a WAV" >&2; exit 1; }

say "The same as JSON (response_mode=url), faster and trimmed, as FLAC and Opus"
"${CURL[@]}" -X POST "$BASE/api/v1/tts?response_mode=url" -H 'content-type: application/json' \
  -d '{"text":"Speed and trim are applied after synthesis.","speed_factor":1.25,"trim":true,
       "export_formats":["flac","opus"],"project":"demo"}' | python3 -m json.tool

say "Upload a reference voice, then clone it (needs the Chatterbox bundle: just models chatterbox)"
"${CURL[@]}" -X POST "$BASE/api/v1/voice" -F "voice_file=@$AUDIO/ref_7s.wav;filename=narrator.wav" \
  -F name=Narrator -F folder_path=cast > /dev/null
"${CURL[@]}" -X POST "$BASE/api/v1/tts?response_mode=url" -H 'content-type: application/json' \
  -d '{"text":"Hi there.","reference_audio_filename":"narrator","seed":42,"exaggeration":0.7,"export_formats":["wav"]}' \
  | python3 -m json.tool

say "Voice conversion of an uploaded recording into the stored voice"
"${CURL[@]}" -X POST "$BASE/api/v1/vc?response_mode=url" -F "input_audio=@$AUDIO/src_3s.wav" \
  -F target_voice_source=narrator -F export_formats=wav,mp3 | python3 -m json.tool

say "The voice's usage count went up with each use"
"${CURL[@]}" "$BASE/api/v1/voices?project=cast" | python3 -c 'import json,sys; v=json.load(sys.stdin)["voices"][0]; print(v["name"], "used", v["usage_count"], "times")'

say "SSML pauses and pace, with captions (WebVTT from the stored output)"
name=$("${CURL[@]}" -X POST "$BASE/api/v1/tts?response_mode=url" -H 'content-type: application/json' \
  -d '{"text":"<speak>Chapter one. <break time=\"1s\"/><prosody rate=\"slow\">It was a dark night.</prosody></speak>",
       "captions":true,"export_formats":["wav"],"project":"demo"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["output_files"][0]["path"].replace("/","%2F"))')
"${CURL[@]}" "$BASE/api/v1/output/$name/captions?format=vtt"

say "A long-form job: a Markdown book becomes one output per chapter and the joined book"
job=$("${CURL[@]}" -X POST "$BASE/api/v1/jobs" -H 'content-type: application/json' \
  -d '{"title":"Demo Book","format":"markdown","text":"# One\nIt begins here.\n# Two\nAnd it ends here.","export_formats":["mp3"]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
"${CURL[@]}" -N "$BASE/api/v1/jobs/$job/events" | grep '^event:' | sort | uniq -c
"${CURL[@]}" "$BASE/api/v1/jobs/$job" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["status"], [o["path"] for o in j["outputs"]])'

say "Bad input is a clear 4xx: an unknown voice is 404"
status=$(curl --silent --output "$OUT/error.json" --write-out '%{http_code}' -X POST "$BASE/api/v1/tts" \
  -H 'content-type: application/json' -d '{"text":"Hi.","reference_audio_filename":"nobody"}')
python3 -m json.tool "$OUT/error.json"
[ "$status" = 404 ] || { echo "expected 404, got $status" >&2; exit 1; }
