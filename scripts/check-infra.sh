#!/usr/bin/env bash
# Checks the deployment files in infra/ offline (no Docker engine, no cloud account): the
# AWS SAM template (translated to CloudFormation, then cfn-lint and the handler's contract;
# a deliberately broken copy must fail), the compose file (compose-spec schema), the
# Kubernetes base and GPU overlay (kustomize, then the API schemas, strict), and both
# Dockerfiles (hadolint). The tools are pinned in infra/requirements-lint.txt and installed
# into .venv-infra on first use. Prints one line per check; exits 1 if any fails.
# Part of scripts/test.sh; run it alone after editing infra/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-infra
REQUIREMENTS=infra/requirements-lint.txt
# The Kubernetes API version the manifests are validated against: the oldest minor still
# in standard support on the major managed services (kubernetes-validate ships 1.x schemas).
K8S_VERSION=1.33
# No single check should take long; a hung tool must not hang the test command.
CHECK_TIMEOUT=60

# The venv is rebuilt when the requirements change (a hash of the file is kept inside it).
ensure_tools() {
  local want have=""
  want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
  [ -f "$VENV/.requirements.sha256" ] && have="$(cat "$VENV/.requirements.sha256")"
  [ "$want" = "$have" ] && [ -x "$VENV/bin/cfn-lint" ] && return 0
  echo "installing the infrastructure checkers into $VENV ($REQUIREMENTS)"
  # Debian's python3 has no venv module (ensurepip) until python3-venv is installed.
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # shellcheck source=SCRIPTDIR/lib/prerequisites.sh
    source scripts/lib/prerequisites.sh
    apt_install python3-venv
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" > "$VENV/.requirements.sha256"
}
ensure_tools
export PATH="$PWD/$VENV/bin:$PATH"
# The SAM translator resolves pseudo-parameters through boto3, which wants a region.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failures=0

# check NAME FUNCTION: runs FUNCTION with a time limit, prints "ok"/"FAIL" and the time,
# and the function's output only when it fails.
check() {
  local name="$1" fn="$2" start rc=0
  start="$(date +%s.%N)"
  timeout "$CHECK_TIMEOUT" bash -c "set -euo pipefail; $(declare -f "$fn"); $fn" \
    >"$scratch/out" 2>&1 || rc=$?
  local took; took="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
  if [ "$rc" -eq 0 ]; then
    printf '  ok    %s (%ss)\n' "$name" "$took"
  else
    failures=$((failures + 1))
    [ "$rc" -eq 124 ] && echo "timed out after ${CHECK_TIMEOUT}s" >>"$scratch/out"
    printf '  FAIL  %s (%ss)\n' "$name" "$took"
    sed 's/^/        /' "$scratch/out"
  fi
}
export scratch

sam_source_lint() {
  # Schema-level faults (misspelt properties, wrong types) with lines in the SAM source.
  cfn-lint infra/aws/template.yaml
}

sam_translated_lint() {
  python infra/aws/sam2cfn.py infra/aws/template.yaml >"$scratch/template.json"
  cfn-lint "$scratch/template.json"
}

sam_contract() {
  python infra/aws/sam2cfn.py infra/aws/template.yaml | python infra/aws/check_contract.py
}

sam_broken_fails() {
  local fixture=infra/aws/tests/broken-template.yaml rc=0
  # The fixture must stay a copy of template.yaml but for its two faults, or it would test
  # an older template.
  python - "$fixture" infra/aws/template.yaml <<'PY'
import sys
def body(path):
    text = open(path, encoding="utf-8").read()
    return text[text.index("AWSTemplateFormatVersion"):]
broken, good = body(sys.argv[1]), body(sys.argv[2])
restored = broken.replace("      Timeout: 5000\n", "      Timeout: 900\n", 1).replace(
    "        InvokeMode: STREAMING\n", "        InvokeMode: RESPONSE_STREAM\n", 1)
if restored != good or restored == broken:
    sys.exit(f"{sys.argv[1]} is not template.yaml with only Timeout 5000 and InvokeMode "
             "STREAMING: copy template.yaml over it and re-apply those two faults")
PY
  python infra/aws/sam2cfn.py "$fixture" >"$scratch/broken.json"
  cfn-lint "$scratch/broken.json" >"$scratch/broken.lint" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "cfn-lint passed $fixture; it must fail (InvokeMode STREAMING, Timeout 5000)"
    return 1
  fi
  local code
  for code in E3030 E3717; do
    if ! grep -q "^$code " "$scratch/broken.lint"; then
      echo "cfn-lint failed $fixture, but without $code:"
      cat "$scratch/broken.lint"
      return 1
    fi
  done
}

compose_schema() {
  check-jsonschema --builtin-schema vendor.compose-spec infra/compose.yaml
}

k8s_base() {
  kubectl kustomize infra/k8s/base >"$scratch/base.yaml"
  kubernetes-validate --quiet --strict -k "$K8S_VERSION" "$scratch/base.yaml"
}

k8s_gpu() {
  kubectl kustomize infra/k8s/gpu >"$scratch/gpu.yaml"
  kubernetes-validate --quiet --strict -k "$K8S_VERSION" "$scratch/gpu.yaml"
  # The overlay's point, which a schema cannot see: one GPU and the CUDA provider.
  grep -q 'nvidia.com/gpu: 1$' "$scratch/gpu.yaml" \
    || { echo "the gpu overlay must limit the container to nvidia.com/gpu: 1"; return 1; }
  grep -q 'SPEECH_EXECUTION_PROVIDER: cuda$' "$scratch/gpu.yaml" \
    || { echo "the gpu overlay must set SPEECH_EXECUTION_PROVIDER=cuda"; return 1; }
}

dockerfiles() {
  hadolint --no-color --failure-threshold error infra/Dockerfile infra/Dockerfile.gpu
}
export K8S_VERSION

echo "infrastructure checks (tools from $REQUIREMENTS)"
check "SAM template: cfn-lint on the SAM source" sam_source_lint
check "SAM template: translated to CloudFormation (aws-sam-translator), cfn-lint" sam_translated_lint
check "SAM template: handler contract (streaming mode, scheduled cleanup, public URL, IAM on the bucket, job queue and worker)" sam_contract
check "broken SAM template fails the same check (E3030 InvokeMode, E3717 Timeout)" sam_broken_fails
check "compose.yaml: compose-spec schema" compose_schema
check "Kubernetes base: kustomize, API $K8S_VERSION schemas (strict)" k8s_base
check "Kubernetes gpu overlay: kustomize, API $K8S_VERSION schemas (strict), GPU and CUDA set" k8s_gpu
check "Dockerfile, Dockerfile.gpu: hadolint (errors fail)" dockerfiles

if [ "$failures" -gt 0 ]; then
  echo "$failures infrastructure check(s) failed"
  exit 1
fi
echo "all infrastructure checks passed"
