#!/usr/bin/env bash
# `npm run notebook`: sets up (scripts/setup-jupyter.sh), then serves the research workbook
# (notebooks/, tslab kernel) with Jupyter Notebook on 127.0.0.1 and prints the URL to open.
#   --port N     port (default 8888, env RPELAB_NOTEBOOK_PORT); fails if it is taken
#   --open       also open a browser
#   --ip ADDR    listen address (default 127.0.0.1)
#   --dir DIR    the folder to serve (default notebooks/; inside this checkout, so that 'rpelab' resolves)
# Stop the server with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${RPELAB_PYTHON:-/usr/bin/python3}
PORT=${RPELAB_NOTEBOOK_PORT:-8888}
IP=127.0.0.1
DIR=notebooks
BROWSER_FLAG=--no-browser
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a value}; shift ;;
    --port=*) PORT=${1#--port=} ;;
    --ip) IP=${2:?--ip needs a value}; shift ;;
    --ip=*) IP=${1#--ip=} ;;
    --dir) DIR=${2:?--dir needs a value}; shift ;;
    --dir=*) DIR=${1#--dir=} ;;
    --open) BROWSER_FLAG= ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "notebook: unknown option '$1' (expected --port N, --ip ADDR, --dir DIR, --open)" >&2; exit 2 ;;
  esac
  shift
done

[ -d "$DIR" ] || { echo "notebook: --dir: no such folder '$DIR'" >&2; exit 2; }
bash scripts/setup-jupyter.sh --quiet

TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
ROOT_FLAG=
[ "$(id -u)" = 0 ] && ROOT_FLAG=--allow-root
HOST=$IP
[ "$IP" = 0.0.0.0 ] && HOST=$(hostname)
echo "[rpelab] starting Jupyter Notebook on $IP:$PORT ($DIR/, kernel tslab, RPELAB_SCALE=${RPELAB_SCALE:-small})"
echo "[rpelab] open:  http://$HOST:$PORT/notebooks/00-quickstart.ipynb?token=$TOKEN"
echo "[rpelab]        http://$HOST:$PORT/tree?token=$TOKEN   (all notebooks)"
exec "$PY" -m notebook \
  --notebook-dir="$DIR" \
  --ip="$IP" --port="$PORT" --NotebookApp.port_retries=0 \
  --NotebookApp.token="$TOKEN" \
  --MappingKernelManager.default_kernel_name=tslab \
  $BROWSER_FLAG $ROOT_FLAG
