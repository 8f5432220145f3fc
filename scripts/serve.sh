#!/usr/bin/env bash
# Builds and starts the speech API on the embedded defaults: http://127.0.0.1:7860,
# filesystem store in ./data. Extra arguments go to local-runner (see --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# --help answers at once: from the built binary when there is one, else from the docs,
# without installing or building anything first.
for arg in "$@"; do
  case "$arg" in
    -h|--help)
      if [ -x "$root/target/release/local-runner" ]; then
        exec "$root/target/release/local-runner" --help
      fi
      echo "usage: scripts/serve.sh [local-runner options]"
      echo "Builds and starts the speech API on http://127.0.0.1:7860 (filesystem store in ./data)."
      echo "Every option and its environment variable: docs/configuration.md"
      echo "(once built, scripts/serve.sh --help prints the full list)."
      exit 0
      ;;
  esac
done
source "$root/scripts/lib/prerequisites.sh"
source "$root/scripts/lib/assets.sh"
ensure_build_prerequisites
# ONNX Runtime, the Piper voice and espeak-ng (cached in ./.cache/models).
ensure_runtime_assets "$root"
cargo build --release --locked -p local-runner --manifest-path "$root/Cargo.toml"
exec "$root/target/release/local-runner" "$@"
