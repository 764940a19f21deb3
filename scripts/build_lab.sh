#!/usr/bin/env bash
# Builds the addon with the kernel lab (stic_lab.node, native/addon/lab/: the kernel-by-kernel
# bindings of the tests and benchmarks) beside stic.node. `npm test`, `npm run bench` and
# `npm run test:gpu` run it first; a plain `npm install` / `npm run build` leaves the lab out.
#   bash scripts/build_lab.sh [BUILD_DIR [--CDNAME=VALUE ...]]     (default: build)
# cmake-js configures only a build folder that has no CMakeCache.txt yet, so a folder configured
# without STIC_LAB (by npm install) is configured again once, with it; after that this is an
# incremental build (a few seconds when nothing changed). Extra --CD options (scripts/test_sanitize.sh)
# apply when it configures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-build}"
shift || true
if ! grep -qx 'STIC_LAB:BOOL=ON' "$OUT/CMakeCache.txt" 2>/dev/null; then
  npx cmake-js configure --out "$OUT" --CDSTIC_LAB=ON "$@"
fi
npx cmake-js build --out "$OUT"
