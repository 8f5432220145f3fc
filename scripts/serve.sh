#!/usr/bin/env bash
# Builds and starts the speech API on the embedded defaults: http://127.0.0.1:7860,
# filesystem store in ./data. Extra arguments go to local-runner (see --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/lib/prerequisites.sh"
source "$root/scripts/lib/assets.sh"
ensure_build_prerequisites
# ONNX Runtime, the Piper voice and espeak-ng (cached in ./.cache/models).
ensure_runtime_assets "$root"
cargo build --release --locked -p local-runner --manifest-path "$root/Cargo.toml"
exec "$root/target/release/local-runner" "$@"
