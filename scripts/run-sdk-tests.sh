#!/usr/bin/env bash
# Runs the OpenAI SDK conformance suites (tests/sdk/python with pytest in .venv-sdk,
# tests/sdk/node with node:test) against a fresh local-runner (debug build, temporary data
# directory, free port, --api-keys sk-test-123), then stops it. Part of scripts/test.sh;
# the runner inherits SPEECH_MODELS_DIR / ORT_DYLIB_PATH from there.
#
# SDK_TEST_BASE_URL=http://host:port/v1 runs the suites against that server instead
# (OPENAI_API_KEY as set, default sk-test-123); SDK_TEST_MODEL, SDK_TEST_SSE_MODEL and
# SDK_TEST_VOICE pass through to the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
source scripts/lib/local-runner.sh

# Node.js and npm for the Node suite: Debian's packages when they are missing (the SDK
# runs on Debian's Node 18 as well; Node 20+ is what CI uses).
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  apt_install nodejs npm
fi

# The Python suite's virtual environment.
venv=.venv-sdk
ensure_venv "$venv" tests/sdk/python/requirements.txt
(cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error)

workdir=$(mktemp -d)
trap 'stop_local_runner; rm -rf "$workdir"' EXIT
if [ -n "${SDK_TEST_BASE_URL:-}" ]; then
  base_url="${SDK_TEST_BASE_URL%/}"
  api_key="${OPENAI_API_KEY:-sk-test-123}"
  export SDK_TEST_WYOMING="${SDK_TEST_WYOMING:-off}"
else
  cargo build --locked -q -p local-runner
  api_key=sk-test-123
  wyoming_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  start_local_runner "$workdir" --api-keys "$api_key" --wyoming-port "$wyoming_port" \
    --wyoming-lexicons wyoming-test
  base_url="$LOCAL_RUNNER_URL/v1"
  export SDK_TEST_WYOMING="127.0.0.1:$wyoming_port"
fi
# Both suites decode what they get with the ffmpeg the setup step fetched.
export SDK_TEST_FFMPEG="${SPEECH_MODELS_DIR:-$PWD/.cache/models}/ffmpeg/ffmpeg"
export OPENAI_BASE_URL="$base_url" OPENAI_API_KEY="$api_key" PYTHONDONTWRITEBYTECODE=1

failed=()
echo "--- Python SDK ($("$venv/bin/python" -c 'import openai; print(openai.__version__)')) against $base_url"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk/python || failed+=(python)
echo "--- Node SDK ($(node -p 'require("./tests/sdk/node/node_modules/openai/package.json").version')) against $base_url"
(cd tests/sdk/node && node --test --test-reporter=spec test.mjs) || failed+=(node)

if [ ${#failed[@]} -gt 0 ]; then
  if [ -s "$workdir/runner.log" ]; then
    echo "--- local-runner log (last 40 lines)"
    tail -n 40 "$workdir/runner.log"
  fi
  echo "FAILED: OpenAI SDK conformance (${failed[*]})"
  exit 1
fi
echo "ok"
