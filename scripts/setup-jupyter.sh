#!/usr/bin/env bash
# Makes the research workbook runnable; idempotent (a second run only checks).
#   1. Jupyter (Debian packages; installed with apt when running as root, else says what to run)
#   2. npm dependencies (npm ci when node_modules is missing or stale)
#   3. the tslab kernel (user-level kernelspec "tslab", pointing at this checkout's tslab)
#   4. `import ... from 'rpelab'` in notebooks: builds dist/ when stale and links
#      node_modules/rpelab -> the repo root, so Node and tslab's type-checker resolve the
#      package exactly as a user's install would (package.json "main"/"types" -> dist/).
#   5. rpelab's notebook extension (jupyter/nbextension: the renderer of Plotly figures and the
#      plotly.js they load), linked into the user's Jupyter data dir and enabled (user config).
# Options:
#   --with-chromium   also install Debian's chromium (for toPng and the browser check)
#   --quiet           print only what changes
# Env: RPELAB_PYTHON (default /usr/bin/python3): the Python that has Jupyter.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${RPELAB_PYTHON:-/usr/bin/python3}
WITH_CHROMIUM=0
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --with-chromium) WITH_CHROMIUM=1 ;;
    --quiet) QUIET=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "setup-jupyter: unknown option '$arg' (expected --with-chromium, --quiet)" >&2; exit 2 ;;
  esac
done
say() { [ "$QUIET" = 1 ] || echo "[rpelab] $*"; }

DEB_PACKAGES="jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client"
APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "[rpelab] missing: $*. Run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $*" >&2
    echo "  then run this script again." >&2
    exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    echo "[rpelab] apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  echo "[rpelab] apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Jupyter: the notebook server, nbconvert (HTML export), nbclient (headless execution).
if ! "$PY" -c 'import notebook, nbconvert, nbclient, jupyter_client, IPython' 2>/dev/null; then
  apt_install $DEB_PACKAGES
  "$PY" -c 'import notebook, nbconvert, nbclient, jupyter_client, IPython' ||
    { echo "[rpelab] Jupyter is still not importable by $PY after the install" >&2; exit 1; }
else
  say "Jupyter present ($("$PY" -c 'import notebook, nbconvert; print("notebook", notebook.__version__, "/ nbconvert", nbconvert.__version__)'))"
fi

if [ "$WITH_CHROMIUM" = 1 ]; then
  if command -v chromium >/dev/null; then say "chromium present"; else apt_install chromium; fi
fi

# 2. npm dependencies.
bash scripts/ensure-node-deps.sh

# 3. The tslab kernel. Its kernelspec runs this checkout's tslab; tslab itself then prefers the
#    tslab under the notebook's own directory tree, so any checkout's notebooks run their own.
TSLAB_BIN="$ROOT/node_modules/.bin/tslab"
registered=$("$PY" - <<'EOF'
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
try:
    print(KernelSpecManager().get_kernel_spec("tslab").argv[0])
except NoSuchKernel:
    print("")
EOF
)
if [ -n "$registered" ] && [ -x "$registered" ]; then
  say "tslab kernel registered ($registered)"
else
  echo "[rpelab] registering the tslab kernel (user-level kernelspec)"
  npx --no-install tslab install --python "$PY" --user --binary "$TSLAB_BIN" >/dev/null
fi

# 4. 'rpelab' importable from notebooks/: a built dist/ and a self-link in node_modules.
#    A stamp marks the last successful build (tsc writes dist/ even when it fails).
STAMP=node_modules/.rpelab-build-ok
if [ ! -f dist/index.js ] || [ ! -f "$STAMP" ] || [ -n "$(find src -name '*.ts' -newer "$STAMP" -print -quit)" ]; then
  echo "[rpelab] building dist/ (tsc -p tsconfig.json)"
  touch "$STAMP.next"
  npx --no-install tsc -p tsconfig.json ||
    { rm -f "$STAMP.next"; echo "[rpelab] the build failed (npx tsc -p tsconfig.json): fix the errors above and run again" >&2; exit 1; }
  mv "$STAMP.next" "$STAMP"
fi
if [ "$(readlink node_modules/rpelab 2>/dev/null)" != ".." ]; then
  if [ -e node_modules/rpelab ] && [ ! -L node_modules/rpelab ]; then
    echo "[rpelab] node_modules/rpelab exists and is not the self-link; remove it and run again" >&2
    exit 1
  fi
  ln -sfn .. node_modules/rpelab
  echo "[rpelab] linked node_modules/rpelab -> repo root"
fi
# Check both resolvers from notebooks/: Node's (tslab runs cells with it) and the TypeScript
# that tslab type-checks cells with (moduleResolution node10, which needs the link above).
resolved=$(cd notebooks && node -e '
  const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [require.resolve("tslab")] }));
  const types = ts.resolveModuleName("rpelab", process.cwd() + "/cell.ts", { moduleResolution: ts.ModuleResolutionKind.Node10 }, ts.sys);
  console.log(require.resolve("rpelab") + " " + (types.resolvedModule ? types.resolvedModule.resolvedFileName : "unresolved"));')
if [ "$resolved" != "$ROOT/dist/index.js $ROOT/dist/index.d.ts" ]; then
  echo "[rpelab] from notebooks/, 'rpelab' resolves to (node, types) = ($resolved), expected dist/index.js and dist/index.d.ts" >&2
  exit 1
fi
# 5. The notebook extension: jupyter/nbextension/plotly.js -> node_modules' plotly.js-dist, the
#    directory linked as nbextensions/rpelab (served by the notebook server at
#    <base>/nbextensions/rpelab/...), and rpelab/main enabled in the user's notebook config.
#    A link that points at another checkout is moved to this one.
PLOTLY_JS=$(node -e 'try { console.log(require.resolve("plotly.js-dist")) } catch { console.log("") }')
if [ -z "$PLOTLY_JS" ]; then
  echo "[rpelab] plotly.js-dist is not installed (npm ci installs it; it is an optional dependency): figures cannot draw" >&2
  exit 1
fi
if [ "$(readlink jupyter/nbextension/plotly.js 2>/dev/null)" != "$PLOTLY_JS" ]; then ln -sfn "$PLOTLY_JS" jupyter/nbextension/plotly.js; fi
NBEXT_STATE=$("$PY" - "$ROOT/jupyter/nbextension" <<'EOF'
import os, sys
from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir
from notebook.services.config import ConfigManager
src = sys.argv[1]
dest = os.path.join(jupyter_data_dir(), "nbextensions", "rpelab")
changed = []
if os.path.realpath(dest) != os.path.realpath(src):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.islink(dest) or os.path.isfile(dest):
        os.remove(dest)
    elif os.path.isdir(dest):
        sys.exit("%s exists and is not rpelab's link; remove it and run again" % dest)
    os.symlink(src, dest)
    changed.append("linked " + dest + " -> " + src)
cm = ConfigManager()
if not cm.get("notebook").get("load_extensions", {}).get("rpelab/main"):
    cm.update("notebook", {"load_extensions": {"rpelab/main": True}})
    changed.append("enabled rpelab/main in " + os.path.join(jupyter_config_dir(), "nbconfig", "notebook.json"))
print("; ".join(changed))
EOF
)
if [ -n "$NBEXT_STATE" ]; then echo "[rpelab] notebook extension: $NBEXT_STATE"; else say "notebook extension rpelab/main installed and enabled"; fi
say "setup done: in notebooks, import from 'rpelab' resolves to dist/index.js (types dist/index.d.ts)"
