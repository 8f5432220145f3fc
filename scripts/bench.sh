#!/usr/bin/env bash
# Benchmarks (`just bench`): listing at scale on the filesystem store and a local S3
# server, then the audio engine against the Python tools the original used (librosa,
# audiostretchy, pydub/ffmpeg), then the Piper engine against the piper-tts package (same
# voice, same sentences), the Python side installed here from PyPI into .venv-bench.
#
# Each benchmark prints markdown tables; as each one finishes, its tables are written into
# docs/benchmarks.md between its `<!-- bench:NAME:start -->` / `<!-- bench:NAME:end -->`
# markers (scripts/bench-tables.py; the prose around them is left alone), and its output
# is kept in target/bench-output/NAME.md. BENCH_WRITE_DOCS=0 only prints.
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

out="$PWD/target/bench-output"
mkdir -p "$out"
# run NAME COMMAND...: the benchmark's output to the terminal and $out/NAME.md; once it has
# succeeded, its tables into the doc (a failed benchmark stops the script and writes nothing).
run() {
  local name="$1"
  shift
  "$@" | tee "$out/$name.md"
  if [ "${BENCH_WRITE_DOCS:-1}" != 0 ]; then
    python3 scripts/bench-tables.py docs/benchmarks.md "$name=$out/$name.md"
  fi
}

echo "## Listing"
run listing cargo bench --locked -q -p tests --bench listing
echo
echo "## Audio: Rust vs Python"
run audio_vs_python env BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p audio --bench audio_vs_python
echo
echo "## Codecs: encode cost on Piper speech, libopus complexity"
source scripts/lib/assets.sh
ensure_runtime_assets "$PWD"
run codecs cargo bench --locked -q -p tests --bench codecs
echo
echo "## Piper: Rust vs piper-tts"
run piper env BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p models --bench piper
echo
echo "## The Piper service over HTTP vs piper-tts's server; cold start"
run piper_service env BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p tests --bench piper_service
echo
echo "## All cores for one request: sentences side by side vs piper-tts"
run parallel env BENCH_PYTHON="$venv/bin/python" cargo bench --locked -q -p tests --bench parallel
echo
echo "## Cold start in Lambda mode, under the emulator"
cargo_lambda="$(ensure_cargo_lambda "$PWD")"
cargo build --locked -q --release -p handler
run lambda_cold_start python3 bench/lambda_cold_start.py "$cargo_lambda" target/release/handler "$PWD/.cache/models"
echo
echo "## OpenAI endpoint: time to first byte and total"
run speech_stream cargo bench --locked -q -p tests --bench speech_stream
echo
echo "## Library: bulk upload and backup memory, voice analysis time"
run library cargo bench --locked -q -p tests --bench library
echo
echo "## Hardening: decode bombs against the memory budget, a stalled store"
run hardening cargo bench --locked -q -p tests --bench hardening
