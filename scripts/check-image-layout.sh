#!/usr/bin/env bash
# Checks a container image's runtime layout without Docker: stages it into a folder from
# the same PyPI wheels the Dockerfile uses (infra/stage-assets.sh), adds the `handler`
# binary, checks with ldd that every library resolves (libcuda.so.1 aside: the host's
# driver provides it), runs `handler self-check` inside the layout and prints its size.
#
#   scripts/check-image-layout.sh cpu|gpu [HANDLER_BINARY]
#
# The test command runs it for `cpu`; `gpu` (about 3 GB of CUDA libraries) runs on request.
# The GPU layout's self-check uses the CPU provider, since no GPU is needed to prove that
# everything loads; `SPEECH_EXECUTION_PROVIDER=cuda` runs it on a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-cpu}"
binary="${2:-target/debug/handler}"
case "$flavour" in cpu|gpu) ;; *) echo "usage: $0 cpu|gpu [HANDLER_BINARY]" >&2; exit 2 ;; esac
[ -x "$binary" ] || { echo "check-image-layout: no handler binary at $binary (cargo build -p handler)" >&2; exit 1; }

# Kept between runs (the wheels are fetched once); rebuilt when the staging script changes.
layout="$PWD/.cache/image-layout-$flavour"
stamp="$layout/.staged-by"
if [ ! -f "$stamp" ] || ! cmp -s "$stamp" infra/stage-assets.sh; then
  rm -rf "$layout"
  bash infra/stage-assets.sh "$flavour" "$layout"
  cp infra/stage-assets.sh "$stamp"
fi
mkdir -p "$layout/bin"
cp "$binary" "$layout/bin/handler"

libs=""
dirs=("$layout/bin" "$layout/models")
if [ "$flavour" = gpu ]; then
  libs="$layout/cuda/lib"
  dirs+=("$layout/cuda")
fi
missing="$(
  find "${dirs[@]}" -type f \( -name '*.so*' -o -path '*/bin/*' -o -name ffmpeg \) 2>/dev/null |
    while read -r file; do
      [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
      LD_LIBRARY_PATH="$libs:$(dirname "$file")" ldd "$file" 2>/dev/null |
        grep 'not found' | grep -v 'libcuda.so.1' | sed "s|^|$(basename "$file"): |" || true
    done
)"
if [ -n "$missing" ]; then
  echo "check-image-layout: libraries that do not resolve in the $flavour layout:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "   every library resolves (libcuda.so.1 comes from the host's driver)"

SPEECH_MODELS_DIR="$layout/models" \
  ORT_DYLIB_PATH="$layout/models/onnxruntime/libonnxruntime.so" \
  LD_LIBRARY_PATH="$libs" \
  SPEECH_EXECUTION_PROVIDER="${SPEECH_EXECUTION_PROVIDER:-cpu}" \
  SPEECH_STORAGE=memory:// \
  "$layout/bin/handler" self-check

echo "   $flavour layout: $(du -sh --exclude=.staged-by "$layout" | cut -f1) (models $(du -sh "$layout/models" | cut -f1)$([ "$flavour" = gpu ] && echo ", CUDA libraries $(du -sh "$layout/cuda" | cut -f1)"))"
