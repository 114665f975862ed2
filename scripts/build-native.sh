#!/usr/bin/env bash
# Builds rpelab's optional native kernels (native/: a small N-API addon in C, see
# src/backend/native.ts) with the node-gyp that npm bundles, against Node's installed headers.
# Without a C compiler or the headers rpelab runs on its JavaScript/wasm kernels, so a failed
# build only warns, unless RPELAB_REQUIRE_NATIVE=1 (CI) or --require is given.
# Where glibc's vector math library (libmvec) links and the compiler targets AVX2, the normal draws
# of SPE's noise use its four-wide log, cos and sin (native/src/normal.c).
# The matrix product comes from OpenBLAS (Debian's libopenblas-dev, installed here with apt when
# running as root, like the project's other Debian packages); without it the addon is built with
# its builtin sgemm and says so.
#   RPELAB_NATIVE=0   skip the build (and, at run time, do not load the addon)
#   RPELAB_BLAS=builtin  build without OpenBLAS even where it is installed
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
# OpenBLAS: can the compiler link a program against it?
has_openblas() {
  printf '#include <cblas.h>\nint main(void) { float c = 0; cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.f, &c, 1, &c, 1, 0.f, &c, 1); return 0; }\n' |
    "${CC:-cc}" -x c - -o /dev/null -lopenblas >/dev/null 2>&1
}
blas="${RPELAB_BLAS:-openblas}"
if [ "$blas" = openblas ] && ! has_openblas; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[rpelab] native kernels: installing OpenBLAS (apt-get install libopenblas-dev)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopenblas-dev) >/dev/null 2>&1
  fi
  if ! has_openblas; then
    echo "[rpelab] native kernels: OpenBLAS not found (Debian: sudo apt-get install libopenblas-dev); building with the builtin sgemm" >&2
    blas=builtin
  fi
fi
[ "$blas" = openblas ] || blas=builtin
# libmvec: glibc's four-wide double log (AVX2 ABI), linked by a program built for this CPU, as the addon is.
has_mvec() {
  printf '#include <immintrin.h>\n__m256d _ZGVdN4v_log(__m256d);\nint main(void) { volatile double d[4] = {1, 2, 3, 4}; __m256d x = _ZGVdN4v_log(_mm256_loadu_pd((const double *)d)); return (int)_mm256_cvtsd_f64(x); }\n' |
    "${CC:-cc}" -x c -march=native - -o /dev/null -lmvec >/dev/null 2>&1
}
mvec=no
has_mvec && mvec=yes
stamp=native/build/blas.txt
if [ -f "$addon" ] && [ -z "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null)" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$blas mvec=$mvec" ]; then
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
echo "[rpelab] building the native kernels (native/, node-gyp, headers in $nodedir, matrix product: $blas, libmvec: $mvec)"
if ! (cd native && RPELAB_BLAS="$blas" RPELAB_MVEC="$mvec" node "$gyp" rebuild --nodedir="$nodedir") > native/build.log 2>&1; then
  tail -n 20 native/build.log >&2
  fail "build failed (log: native/build.log)"
fi
node -e "const n = require('./$addon'); console.log('[rpelab] native kernels built (' + n.simd + ', matrix product ' + n.blas() + ')')" || fail "built but does not load"
echo "$blas mvec=$mvec" > "$stamp"
