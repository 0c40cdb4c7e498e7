#!/usr/bin/env bash
# The project's single test command (CI runs it through .ci/run).
#
#   1. install test dependencies          scripts/install-test-deps.sh
#   2. cargo fmt --check
#   3. cargo clippy -D warnings
#   4. build the tests                    (before the servers start: they would take
#                                          CPU from the compiler on a 2-core machine)
#   5. start the test servers             scripts/test-servers.sh start
#   6. cargo test --workspace             with target/test-run/servers.env sourced
#   7. terraform/check.sh, templates/monitoring/check.sh (if present)
#
# The servers are always stopped on exit, whether the run passed, failed or was
# interrupted. The exit code is the first failing phase's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
export VDR_VENV="${VDR_VENV:-$REPO/.venv}"
export VDR_TEST_RUN="${VDR_TEST_RUN:-$REPO/target/test-run}"

TIMINGS=()
phase() {
  local name="$1"
  shift
  local t0=$SECONDS
  echo
  echo "=== $name"
  "$@"
  TIMINGS+=("$(printf '%-30s %5d s' "$name" $((SECONDS - t0)))")
  echo "=== $name: ok ($((SECONDS - t0)) s)"
}

SERVERS_STARTED=0
on_exit() {
  local rc=$?
  if ((SERVERS_STARTED)); then
    scripts/test-servers.sh stop || true
  fi
  echo
  echo "=== timings"
  printf '%s\n' "${TIMINGS[@]}"
  if ((rc == 0)); then echo "=== all phases passed"; else echo "=== FAILED (exit $rc)"; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_servers() {
  SERVERS_STARTED=1
  scripts/test-servers.sh start
  # shellcheck source=/dev/null
  source "$VDR_TEST_RUN/servers.env"
}

phase "install test deps" bash scripts/install-test-deps.sh
phase "cargo fmt" cargo fmt --all -- --check
phase "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
phase "cargo test (build)" cargo test --workspace --no-run
phase "start test servers" start_servers
phase "cargo test" cargo test --workspace
if [[ -f terraform/check.sh ]]; then
  phase "terraform/check.sh" bash terraform/check.sh
fi
if [[ -f templates/monitoring/check.sh ]]; then
  phase "templates/monitoring/check.sh" bash templates/monitoring/check.sh
fi
