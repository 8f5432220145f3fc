#!/usr/bin/env bash
# Runs the browser suite of the studio at /ui (tests/ui: pytest + Playwright for Python,
# driving Debian's headless Chromium, with axe-core from npm for the accessibility check)
# against live local-runners the suite starts itself (debug build; one over a real S3
# server, one over the filesystem store). Screenshots of every page go to docs/ui/
# (UI_TEST_SCREENSHOTS=<dir> writes them elsewhere). Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
source scripts/lib/assets.sh
# The engines the runners speak with (a no-op when scripts/test.sh has run it).
ensure_runtime_assets "$PWD" >/dev/null

# Debian's Chromium: Playwright drives it and never downloads a browser of its own.
if [ -z "${UI_TEST_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
if ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi

venv=.venv-ui
ensure_venv "$venv" tests/ui/requirements.txt
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked -q -p local-runner -p tests --bin local-runner --bin s3-test-server
echo "--- studio in $("${UI_TEST_CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null || echo chromium)"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/ui
