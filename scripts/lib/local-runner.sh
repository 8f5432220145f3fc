# shellcheck shell=bash
# Starts the debug local-runner on a free port over a file store in a scratch folder and
# waits for the URL it prints. Sourced by run-examples.sh and run-sdk-tests.sh, which
# build it first and call stop_local_runner from their EXIT trap.

LOCAL_RUNNER_PID=""
LOCAL_RUNNER_URL=""

# start_local_runner WORKDIR [FLAG...]: stores in WORKDIR/data, logs to WORKDIR/runner.log.
start_local_runner() {
  local workdir="$1"
  shift
  "${CARGO_TARGET_DIR:-target}/debug/local-runner" --port 0 --storage "file://$workdir/data" --log warn \
    "$@" >"$workdir/stdout" 2>"$workdir/runner.log" &
  LOCAL_RUNNER_PID=$!
  for _ in $(seq 1 100); do
    LOCAL_RUNNER_URL=$(grep -o 'http://[0-9.:]*' "$workdir/stdout" 2>/dev/null || true)
    [ -n "$LOCAL_RUNNER_URL" ] && return 0
    kill -0 "$LOCAL_RUNNER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "local-runner did not start:" >&2
  cat "$workdir/runner.log" >&2
  return 1
}

stop_local_runner() {
  [ -n "$LOCAL_RUNNER_PID" ] || return 0
  kill "$LOCAL_RUNNER_PID" 2>/dev/null || true
  wait "$LOCAL_RUNNER_PID" 2>/dev/null || true
  LOCAL_RUNNER_PID=""
}
