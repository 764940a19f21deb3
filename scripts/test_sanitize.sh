#!/usr/bin/env bash
# `npm run test:sanitize` (issue 20): the addon built a second time with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-sanitize/ (the regular build/ is untouched), then the
# native-heavy tests run against it, then the leak check (test/leak/leak_check.ts) runs against the
# regular addon (ASan's quarantine would hide RSS trends).
#
# Node itself is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD) ahead of it, and
# LeakSanitizer is off: V8 keeps memory to process exit by design, which LSan would report. UBSan
# halts on the first finding (-fno-sanitize-recover=undefined in CMakeLists.txt). The first build
# takes long (every native file, -O1 -g); later runs rebuild only what changed.
#   npm run test:sanitize                 build + sanitized tests + leak check
#   npm run test:sanitize -- --no-leak    skip the leak check
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LEAK=1
[[ "${1:-}" == "--no-leak" ]] && LEAK=0

echo "[sanitize] building build-sanitize/ (STIC_SANITIZE=address,undefined, CUDA off, with the kernel lab)" >&2
bash scripts/build_lab.sh build-sanitize --CDSTIC_SANITIZE=address,undefined --CDSTIC_CUDA=off >&2

CXX_BIN="${CXX:-c++}"
ASAN_RT="$("$CXX_BIN" -print-file-name=libasan.so)"
UBSAN_RT="$("$CXX_BIN" -print-file-name=libubsan.so)"
[[ -f "$ASAN_RT" ]] || { echo "[sanitize] libasan.so not found (is the compiler's sanitizer runtime installed? Debian: libasan8 / libubsan1)" >&2; exit 1; }

# The tests that drive native code hardest: kernels and their backward passes, the engine and the
# trainer end to end, image corruption and preprocessing, conversions and the stage commands.
TESTS=(
  'test/cpu/*.test.ts' 'test/native/*.test.ts'
  'test/engine/generation.test.ts' 'test/engine/errors.test.ts' 'test/generate/batching.test.ts'
  'test/model/trainer_backward.test.ts' 'test/model/trainer_errors.test.ts' 'test/model/trainer_determinism.test.ts'
  'test/data/corrupt.test.ts' 'test/data/preprocess.test.ts' 'test/data/color.test.ts'
  'test/model/pretrainer_gradients.test.ts' 'test/stic/cli_e2e.test.ts'
)
echo "[sanitize] running ${#TESTS[@]} test groups against build-sanitize/Release/stic.node (and stic_lab.node beside it)" >&2
env LD_PRELOAD="$ASAN_RT $UBSAN_RT" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0:allocator_may_return_null=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  STIC_ADDON_PATH="$ROOT/build-sanitize/Release/stic.node" \
  npx mocha --no-config --import=tsx --timeout 900000 "${TESTS[@]}"

if [[ $LEAK == 1 ]]; then
  echo "[sanitize] leak check: RSS over 1,000 calls of generate, a training step and a corruption batch" >&2
  node --expose-gc --import=tsx test/leak/leak_check.ts 1000
fi
echo "[sanitize] clean" >&2
