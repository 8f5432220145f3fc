#!/usr/bin/env bash
# The README's walk-through of the library endpoints, as a script CI runs against a
# live local-runner. Usage: examples/library-walkthrough.sh [BASE_URL]
# (default http://127.0.0.1:7860). Needs curl and python3 (for pretty JSON).
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:7860}}"
AUDIO="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/audio"
say() { printf '\n# %s\n' "$*"; }
show() { python3 -m json.tool; }
# --fail-with-body: any 4xx/5xx stops the walk-through (and fails CI).
CURL=(curl --silent --show-error --fail-with-body)

say "Is it up?"
"${CURL[@]}" "$BASE/api/v1/health" | show

say "Upload a voice into a folder, with tags and default parameters"
"${CURL[@]}" -X POST "$BASE/api/v1/voice" \
  -F "voice_file=@$AUDIO/tone.mp3;filename=narrator.mp3" \
  -F "name=Narrator" -F "description=Calm narrator" -F "tags=calm,en" \
  -F "folder_path=narrators/en" -F 'default_parameters={"temperature":0.6}' | show

say "List voices: search, folder filter (project is an alias), pagination"
"${CURL[@]}" "$BASE/api/v1/voices?search=calm&folder=narrators&page=1&page_size=10" | show

say "Update its metadata (a new folder_path moves it)"
"${CURL[@]}" -X PUT "$BASE/api/v1/voice/narrator.mp3/metadata" \
  -H 'content-type: application/json' -d '{"description":"Calm, warm narrator","folder_path":"narrators"}' | show

say "The folder tree"
"${CURL[@]}" "$BASE/api/v1/voices/folders" | show

say "Upload a VC input with its transcript"
"${CURL[@]}" -X POST "$BASE/api/v1/vc_input" \
  -F "vc_input_file=@$AUDIO/tone.flac;filename=line1.flac" -F "text=Hello there" -F "project=scene1" | show
"${CURL[@]}" "$BASE/api/v1/vc_inputs?project=scene1" | show

say "Outputs, newest first (filters: generation_type, search, folder/project, filenames); downloads take Range"
"${CURL[@]}" -X POST "$BASE/api/v1/tts?response_mode=url" -H 'content-type: application/json' \
  -d '{"text":"Chapter one.","project":"book1"}' > "${TMPDIR:-/tmp}/walkthrough-tts.json"
"${CURL[@]}" "$BASE/api/v1/outputs?generation_type=tts&project=book1&page_size=50" | show
mp3=$(python3 -c 'import json,sys; print([f["url"] for f in json.load(open(sys.argv[1]))["output_files"] if f["format"] == "mp3"][0])' "${TMPDIR:-/tmp}/walkthrough-tts.json")
status=$(curl --silent --output "${TMPDIR:-/tmp}/walkthrough-part.mp3" --write-out '%{http_code}' -H 'Range: bytes=0-1023' "$BASE$mp3")
size=$(wc -c < "${TMPDIR:-/tmp}/walkthrough-part.mp3")
echo "GET $mp3 with Range: bytes=0-1023 -> $status, $size bytes"
[ "$status" = 206 ] && [ "$size" = 1024 ] || { echo "expected 206 with 1024 bytes" >&2; exit 1; }

say "Errors come in one envelope: deleting without confirm=true is refused"
status=$(curl --silent --output /dev/stderr --write-out '%{http_code}' -X DELETE "$BASE/api/v1/voice/narrator.mp3")
echo; [ "$status" = 400 ] || { echo "expected 400, got $status" >&2; exit 1; }

say "A misspelt filter is refused (422) and deletes nothing; no filter needs all=true (400)"
status=$(curl --silent --output /dev/stderr --write-out '%{http_code}' -X DELETE "$BASE/api/v1/vc_inputs?confirm=true&fodler=scene1")
echo; [ "$status" = 422 ] || { echo "expected 422, got $status" >&2; exit 1; }
status=$(curl --silent --output /dev/stderr --write-out '%{http_code}' -X DELETE "$BASE/api/v1/vc_inputs?confirm=true")
echo; [ "$status" = 400 ] || { echo "expected 400, got $status" >&2; exit 1; }

say "Delete one voice, then bulk-delete VC inputs by folder"
"${CURL[@]}" -X DELETE "$BASE/api/v1/voice/narrator.mp3?confirm=true" | show
"${CURL[@]}" -X DELETE "$BASE/api/v1/vc_inputs?confirm=true&folder=scene1" | show

say "Storage usage, and a cleanup run (zero-byte files, stale sidecars)"
"${CURL[@]}" "$BASE/api/v1/resources" | show
"${CURL[@]}" -X POST "$BASE/api/v1/cleanup" | show
"${CURL[@]}" "$BASE/api/v1/cleanup/status" | show
