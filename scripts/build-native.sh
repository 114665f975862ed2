#!/usr/bin/env bash
# Builds rpelab's optional native kernels (native/: a small N-API addon in C, see
# src/backend/native.ts) with the node-gyp that npm bundles, against Node's installed headers.
# Without a C compiler or the headers rpelab runs on its JavaScript/wasm kernels, so a failed
# build only warns, unless RPELAB_REQUIRE_NATIVE=1 (CI) or --require is given.
#   RPELAB_NATIVE=0   skip the build (and, at run time, do not load the addon)
set -uo pipefail
cd "$(dirname "$0")/.."
require="${RPELAB_REQUIRE_NATIVE:-0}"
[ "${1:-}" = "--require" ] && require=1
addon=native/build/Release/rpelab_native.node
fail() {
  echo "[rpelab] native kernels: $1; rpelab will use its JavaScript/wasm kernels" >&2
  [ "$require" = 1 ] && exit 1
  exit 0
}
if [ "${RPELAB_NATIVE:-1}" = 0 ]; then
  echo "[rpelab] native kernels: not built (RPELAB_NATIVE=0)"
  exit 0
fi
if [ -f "$addon" ] && [ -z "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  exit 0  # up to date
fi
gyp=""
for candidate in "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
  "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; do
  [ -f "$candidate" ] && gyp="$candidate" && break
done
[ -n "$gyp" ] || fail "node-gyp (bundled with npm) not found"
# Node's headers: node-gyp would otherwise try to download them.
nodedir=""
for prefix in "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" /usr /usr/local; do
  [ -f "$prefix/include/node/node_api.h" ] && nodedir="$prefix" && break
done
[ -n "$nodedir" ] || fail "Node's headers (include/node/node_api.h) not found"
command -v "${CC:-cc}" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || fail "no C compiler"
echo "[rpelab] building the native kernels (native/, node-gyp, headers in $nodedir)"
if ! (cd native && node "$gyp" rebuild --nodedir="$nodedir") > native/build.log 2>&1; then
  tail -n 20 native/build.log >&2
  fail "build failed (log: native/build.log)"
fi
node -e "const n = require('./$addon'); console.log('[rpelab] native kernels built (' + n.simd + ')')" || fail "built but does not load"
