#!/usr/bin/env bash
# The project's one test command (README, CI): installs what the build needs, then runs
# the format check, clippy with warnings as errors, every test (the storage and HTTP
# suites run against a real S3 server the harness starts on 127.0.0.1, and against the
# filesystem store; the job-queue suites against moto's SQS server on 127.0.0.1), the OpenAPI drift check, the documented curl examples against a
# running local-runner, schemathesis over the whole OpenAPI document against another
# (scripts/check-openapi-live.sh), the offline checks of the deployment files in infra/
# (scripts/check-infra.sh), the CPU image layout (scripts/check-image-layout.sh), the
# Lambda emulator and artefact (scripts/check-lambda.sh), the OpenAI SDK conformance
# suites (Python and Node) against another local-runner, and the browser suite of the
# studio at /ui in Debian's headless Chromium (scripts/run-ui-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
source scripts/lib/assets.sh
ensure_build_prerequisites
# ONNX Runtime, the Piper voice, ffmpeg and espeak-ng (cached in ./.cache/models).
ensure_runtime_assets "$PWD"
# The SQS-compatible server of the job-queue tests (moto, in ./.venv-moto).
ensure_sqs_test_server "$PWD"

# A one-off build keeps no incremental state: on a fresh clone it only costs disk (~9 GB).
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (memory, filesystem and real S3 backends; OpenAPI drift)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi

step "documented examples against a running local-runner"
bash scripts/run-examples.sh

step "the OpenAPI document against a running local-runner (schemathesis, both dialects)"
bash scripts/check-openapi-live.sh

step "infrastructure checks (SAM, compose, Kubernetes, Dockerfiles)"
bash scripts/check-infra.sh

step "CPU image layout from the wheels: every library resolves, self-check passes"
bash scripts/check-image-layout.sh cpu

step "AWS Lambda: the emulator (buffered and streaming) and the deployable artefact"
bash scripts/check-lambda.sh

step "OpenAI SDK conformance (Python and Node)"
bash scripts/run-sdk-tests.sh

step "the studio at /ui in headless Chromium (Playwright, axe-core)"
bash scripts/run-ui-tests.sh

step "all checks passed"
