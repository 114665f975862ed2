#!/usr/bin/env bash
# `npm test`: installs what is missing (npm packages, data, Debian's Jupyter, the tslab kernel),
# type-checks, lints, runs the mocha suite once per backend, every experiment and notebook at smoke scale,
# checks the executed notebooks, renders one in headless Chromium, walks through two notebooks in
# Jupyter's UI (Chromium driven by playwright-core), and installs the packed package into a new project.
#   RPELAB_TEST_BACKENDS  backends to run (default "wasm cpu")
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-deps.sh
bash scripts/install-data.sh
bash scripts/setup-jupyter.sh --quiet --with-chromium
echo "[rpelab] type-checking"
npx tsc -p tsconfig.test.json
echo "[rpelab] lint (ESLint) and format check (Prettier): npm run lint"
npm run --silent lint
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
for backend in ${RPELAB_TEST_BACKENDS:-wasm cpu}; do
  echo "[rpelab] mocha on backend: $backend"
  RPELAB_BACKEND=$backend RPELAB_TEST_SUMMARY=$summary npx mocha "${@:-test/**/*.test.ts}" || status=1
done
echo "[rpelab] every experiment and notebook at smoke scale (npm run reproduce -- --scale smoke)"
RPELAB_SCALE=smoke npx tsx scripts/reproduce.ts --scale smoke --no-build --out reports/ci || status=1
npx tsx src/cli.ts report all --scale smoke || status=1
RPELAB_TEST_SUMMARY=$summary npx tsx test/notebooks/check-executed.ts reports/ci || status=1
RPELAB_TEST_SUMMARY=$summary npx tsx test/notebooks/browser-check.ts reports/ci/00-quickstart.html || status=1
echo "[rpelab] the notebooks as people use them: npm run notebook, driven in Chromium through Jupyter's menus (screenshots in reports/ui/)"
RPELAB_TEST_SUMMARY=$summary npx tsx test/notebooks/jupyter-ui.ts || status=1
echo "[rpelab] rpelab as another project's dependency (npm pack, npm install into a new project)"
RPELAB_TEST_SUMMARY=$summary npx tsx test/package/consumer-install.ts || status=1
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
const t = lines.reduce((a, l) => ({ p: a.p + l.passed, f: a.f + l.failed, s: a.s + l.skipped }), { p: 0, f: 0, s: 0 });
for (const l of lines) console.log(`  ${l.backend}: ${l.passed} passed, ${l.failed} failed, ${l.skipped} skipped`);
console.log(`${t.p} passed, ${t.f} failed, ${t.s} skipped`);
' "$summary"
exit $status
