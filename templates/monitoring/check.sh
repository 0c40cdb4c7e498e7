#!/usr/bin/env bash
# Checks templates/monitoring: promtool check/test rules when promtool can be
# had, and always the offline checker (structure, PromQL sanity, metric table
# contract, dashboard). Idempotent; ~1 s once promtool is installed.
#   VDR_NO_INSTALL=1  never try to apt-get install promtool
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
status=0

if ! command -v promtool >/dev/null 2>&1 && [[ "${VDR_NO_INSTALL:-0}" != 1 ]] &&
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "== promtool missing: apt-get install -y --no-install-recommends prometheus"
  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 ||
    echo "   (could not install prometheus; using the offline check only)"
fi

if command -v promtool >/dev/null 2>&1; then
  echo "== $(promtool --version 2>&1 | head -n1)"
  echo "== promtool check rules vdr-alerts.yml"
  promtool check rules vdr-alerts.yml || status=1
  echo "== promtool test rules vdr-alerts.test.yml"
  promtool test rules vdr-alerts.test.yml || status=1
else
  echo "== promtool not available: rules are checked offline only (not evaluated)"
fi

# The offline checker needs PyYAML: system python3 if it has it, else the venv.
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
  VENV="${VDR_VENV:-$HERE/../../.venv}"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -c 'import yaml' 2>/dev/null ||
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pyyaml
  PY="$VENV/bin/python"
fi
echo "== check_rules.py (offline: rules, tests, dashboard, metric table)"
"$PY" check_rules.py "$HERE" || status=1

if ((status)); then
  echo "monitoring checks FAILED"
else
  echo "monitoring checks passed"
fi
exit "$status"
