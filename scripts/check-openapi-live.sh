#!/usr/bin/env bash
# Fuzzes a running local-runner against its own OpenAPI document with schemathesis (PyPI):
# every operation of both dialects, with API keys on and the key sent, checked for server
# errors and for statuses, content types and response bodies the document does not declare.
# Bounded in time (SCHEMATHESIS_MAX_TIME, default 180 s) and seeded (SCHEMATHESIS_SEED), so
# a failure reproduces. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/local-runner.sh
venv="$PWD/.venv-schemathesis"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tests/schemathesis/requirements.txt
fi
cargo build --locked -q -p local-runner
workdir=$(mktemp -d)
trap 'stop_local_runner; rm -rf "$workdir"' EXIT
key="schemathesis-$RANDOM$RANDOM"
start_local_runner "$workdir" --api-keys "$key" \
  --chatterbox-dir "$PWD/models/tests/fixtures/chatterbox-standins/original"
cd "$workdir"
"$venv/bin/schemathesis" run "$LOCAL_RUNNER_URL/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --header "Authorization: Bearer $key" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-180}" \
  --seed "${SCHEMATHESIS_SEED:-20261207}" \
  --no-color --warnings off --report-dir "$workdir/report" \
  || { echo "--- local-runner log (last 40 lines)"; tail -40 "$workdir/runner.log"; exit 1; }
