#!/usr/bin/env bash
# Benchmarks (`just bench`): listing at scale on the filesystem store and a local S3
# server, then the audio engine against the Python tools the original used (librosa,
# audiostretchy, pydub/ffmpeg), then the Piper engine against the piper-tts package (same
# voice, same sentences), the Python side installed here from PyPI into .venv-bench. Prints
# markdown tables; docs/benchmarks.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
ensure_build_prerequisites
# Absolute: each benchmark runs from its own package folder.
venv="$PWD/.venv-bench"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r bench/python/requirements.txt

echo "## Listing"
cargo bench --locked -q -p tests --bench listing
echo
echo "## Audio: Rust vs Python"
BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p audio --bench audio_vs_python
echo
echo "## Piper: Rust vs piper-tts"
source scripts/lib/assets.sh
ensure_runtime_assets "$PWD"
BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p models --bench piper
echo
echo "## The Piper service over HTTP vs piper-tts's server; cold start"
BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p tests --bench piper_service
echo
echo "## Cold start in Lambda mode, under the emulator"
cargo_lambda="$(ensure_cargo_lambda "$PWD")"
cargo build --locked -q --release -p handler
python3 bench/lambda_cold_start.py "$cargo_lambda" target/release/handler "$PWD/.cache/models"
echo
echo "## OpenAI endpoint: time to first byte and total"
cargo bench --locked -q -p tests --bench speech_stream
echo
echo "## Hardening: decode bombs against the memory budget, a stalled store"
cargo bench --locked -q -p tests --bench hardening
