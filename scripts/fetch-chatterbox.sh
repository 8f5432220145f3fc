#!/usr/bin/env bash
# Installs a Chatterbox ONNX bundle for voice cloning and voice conversion:
#   scripts/fetch-chatterbox.sh [original|turbo] [fp32|fp16|q8|q4|q4f16]
# Downloads tokenizer.json and the four graphs (each with its .onnx_data weights) from
# the public Hugging Face exports into $SPEECH_CHATTERBOX_DIR (default
# $SPEECH_MODELS_DIR/chatterbox, i.e. ./.cache/models/chatterbox), where the service
# finds them. For each graph the file of the chosen precision is used when the export
# has one, else the full-precision file (the service's loader makes the same choice).
# HF_ENDPOINT points at a mirror; HF_TOKEN is sent when set. Resumable: files already
# complete are skipped. About 1.5 GB (q4) to 3.5 GB (fp32).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
family="${1:-original}"
precision="${2:-${SPEECH_CHATTERBOX_PRECISION:-fp32}}"
case "$family" in
  original) repo="onnx-community/chatterbox-ONNX" ;;
  turbo) repo="ResembleAI/chatterbox-turbo-ONNX" ;;
  *) echo "usage: $0 [original|turbo] [fp32|fp16|q8|q4|q4f16]" >&2; exit 2 ;;
esac
case "$precision" in
  fp32) suffix="" ;;
  fp16) suffix="_fp16" ;;
  q8) suffix="_quantized" ;;
  q4) suffix="_q4" ;;
  q4f16) suffix="_q4f16" ;;
  *) echo "unknown precision $precision (fp32, fp16, q8, q4, q4f16)" >&2; exit 2 ;;
esac
models_dir="${SPEECH_MODELS_DIR:-$root/.cache/models}"
dest="${SPEECH_CHATTERBOX_DIR:-$models_dir/chatterbox}"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
mkdir -p "$dest/onnx"
auth=()
if [ -n "${HF_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $HF_TOKEN"); fi

# Downloads one file of the repo; returns 1 when the export does not have it (404).
fetch() {
  local path="$1" target="$dest/$1"
  if [ -s "$target" ]; then return 0; fi
  local url="$endpoint/$repo/resolve/main/$path"
  local status
  status="$(curl -sSL "${auth[@]}" -o "$target.part" -w '%{http_code}' -C - "$url" || true)"
  case "$status" in
    200|206) mv "$target.part" "$target"; echo "  $path"; return 0 ;;
    404) rm -f "$target.part"; return 1 ;;
    *) rm -f "$target.part"; echo "error: $url answered HTTP $status" >&2; exit 1 ;;
  esac
}

# A graph in the chosen precision when the export has it, else in full precision.
fetch_graph() {
  local name="$1"
  if [ -n "$suffix" ] && fetch "onnx/${name}${suffix}.onnx"; then
    fetch "onnx/${name}${suffix}.onnx_data" || echo "  (no external weights for ${name}${suffix})"
    return 0
  fi
  fetch "onnx/${name}.onnx" || { echo "error: $repo has no onnx/${name}.onnx" >&2; exit 1; }
  fetch "onnx/${name}.onnx_data" || echo "  (no external weights for ${name})"
}

echo "installing Chatterbox ($family, $precision) from $repo into $dest"
fetch tokenizer.json || { echo "error: $repo has no tokenizer.json" >&2; exit 1; }
for graph in speech_encoder embed_tokens language_model conditional_decoder; do
  fetch_graph "$graph"
done
fetch default_voice.wav || true
echo "done. Start the service with SPEECH_CHATTERBOX_PRECISION=$precision (and SPEECH_CHATTERBOX_DIR=$dest if you moved it)."
