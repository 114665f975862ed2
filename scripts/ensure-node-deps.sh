#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[rpelab] installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
# The optional native kernels (warns and goes on where they cannot be built).
bash scripts/build-native.sh
