#!/usr/bin/env bash
# Static checks (`make lint`, cloudbuild.yaml): ruff lint + format, the import contracts
# (import-linter, pyproject [tool.importlinter]), mypy over shared/ and functions/, terraform fmt,
# checkov over terraform/ (every skip justified in a comment), yamllint of cloudbuild.yaml and
# workflows/.
# Runs every check, then exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
# A CLI config path that points nowhere only makes terraform print a warning.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -e "$TF_CLI_CONFIG_FILE" ]]; then unset TF_CLI_CONFIG_FILE; fi
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}

failed=()
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then echo "   ok"; else failed+=("$name"); fi
}

check "ruff check" "$PY" -m ruff check .
check "ruff format --check" "$PY" -m ruff format --check .

# The package layout's import contracts (capabilities meet through their public package, rules
# stay pure, ...). The console script lives beside the interpreter in a virtualenv.
LINT_IMPORTS=$(dirname "$PY")/lint-imports
[[ -x "$LINT_IMPORTS" ]] || LINT_IMPORTS=lint-imports
check "lint-imports" "$LINT_IMPORTS" --no-cache
# Files and options in pyproject [tool.mypy]; functions are packages (functions.<name>.main).
check "mypy" "$PY" -m mypy

if command -v terraform >/dev/null 2>&1; then
  check "terraform fmt -check" terraform fmt -check -recursive terraform
else
  echo "== terraform fmt -check: terraform is not on PATH"
  failed+=("terraform fmt")
fi

# checkov downgrades packages it shares an environment with: it gets its own virtualenv.
if [[ ! -x "$CHECKOV_VENV/bin/checkov" ]]; then
  echo "== creating $CHECKOV_VENV (checkov $CHECKOV_VERSION)"
  python3 -m venv "$CHECKOV_VENV" && "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION"
fi
check "checkov" "$CHECKOV_VENV/bin/checkov" -d terraform --framework terraform --skip-download \
  --quiet --compact

# A skip must say why: `#checkov:skip=CKV_X_1:<reason>`.
unjustified() {
  ! grep -rnE --include='*.tf' 'checkov:skip=[A-Z0-9_]+[[:space:]]*(:[[:space:]]*)?$' terraform
}
check "checkov skips carry a reason" unjustified

check "yamllint" "$PY" -m yamllint -c .yamllint --strict cloudbuild.yaml workflows/

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "lint: all checks passed"
