# shellcheck shell=bash
# Installs the Debian packages the build needs when they are missing. Sourced by the
# README's commands; everything else comes from the crate registry.

# Packages needed to compile the workspace (C parts of the audio codecs).
BUILD_PACKAGES=(cmake pkg-config build-essential)

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "error: need root or sudo to install: $*" >&2; return 1
    fi
  fi
  echo "installing Debian packages: $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

ensure_build_prerequisites() {
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || missing+=(build-essential)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
  command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install the Rust toolchain (https://rustup.rs)" >&2; return 1; }
}

# ensure_venv DIR REQUIREMENTS: a Python virtual environment in DIR with REQUIREMENTS
# installed. Debian's python3 lacks venv/ensurepip without python3-venv: a failed `venv`
# leaves a folder without pip, so it starts again after installing that package.
ensure_venv() {
  local venv="$1"
  if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$2"
}

# cargo-lambda (PyPI, pinned here only), installed without its zig dependency into
# ROOT/.venv-lambda: the Lambda emulator and artefact builder of scripts/check-lambda.sh and
# of the cold-start bench (scripts/bench.sh). Prints the program's path.
ensure_cargo_lambda() {
  local venv="$1/.venv-lambda"
  if [ ! -x "$venv/bin/cargo-lambda" ]; then
    # Only the path goes to standard output.
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --no-deps cargo-lambda==1.9.2 >&2
  fi
  echo "$venv/bin/cargo-lambda"
}

# moto in server mode (PyPI, pinned in tests/sqs/requirements.txt) in ROOT/.venv-moto: the
# SQS-compatible server the job-queue tests start on loopback (tests/src/sqs.rs). Exports
# its path as SPEECH_TEST_MOTO_SERVER.
ensure_sqs_test_server() {
  local venv="$1/.venv-moto"
  if ! "$venv/bin/python" -c "import moto, flask_cors" >/dev/null 2>&1; then
    ensure_venv "$venv" "$1/tests/sqs/requirements.txt"
  fi
  export SPEECH_TEST_MOTO_SERVER="$venv/bin/moto_server"
}
