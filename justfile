# Developer commands. The README's two commands (scripts/serve.sh, scripts/test.sh) need
# nothing but the Rust toolchain and python3; these recipes are shortcuts around them.

# List recipes
default:
    @just --list

# Build and start the API on http://127.0.0.1:7860 (filesystem store in ./data)
run *ARGS:
    ./scripts/serve.sh {{ARGS}}

# Everything CI runs
test:
    ./scripts/test.sh

# The studio's browser suite alone (headless Chromium); screenshots go to docs/ui
ui-test:
    ./scripts/run-ui-tests.sh

# Format the code
fmt:
    cargo fmt --all

# Clippy with warnings as errors
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Regenerate docs/openapi.json from the code
openapi:
    cargo run -q --locked -p handler -- openapi > docs/openapi.json

# Regenerate the audio fixtures in tests/fixtures/audio (needs PyPI access)
fixtures:
    ./scripts/make-audio-fixtures.sh

# A local S3-compatible server on 127.0.0.1:9000 (credentials speechtest / speechtest-secret)
s3 DIR="./s3data" BUCKET="speech":
    cargo run --locked -p tests --bin s3-test-server -- --port 9000 --bucket {{BUCKET}} {{DIR}}

# Benchmarks (listing, audio vs Python, codecs, Piper vs piper-tts, streaming, library, hardening); writes their tables into docs/benchmarks.md
bench:
    ./scripts/bench.sh

# Install a model bundle: `just models chatterbox [original|turbo] [fp32|fp16|q8|q4|q4f16]`
models NAME *ARGS:
    @if [ "{{NAME}}" = "chatterbox" ]; then ./scripts/fetch-chatterbox.sh {{ARGS}}; \
     elif [ "{{NAME}}" = "piper" ]; then bash -c 'source scripts/lib/prerequisites.sh && source scripts/lib/assets.sh && ensure_runtime_assets "$PWD"'; \
     else echo "unknown model bundle {{NAME}} (chatterbox, piper)"; exit 2; fi
