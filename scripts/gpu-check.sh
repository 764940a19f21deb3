#!/usr/bin/env bash
# The one script of a GPU session (../shared/DEVICE.md, issue 7): build the addon with the CUDA
# backend, run `npm run test:gpu`, run the GPU benchmarks, print one table; results under $OUT.
#
#   scripts/gpu-check.sh pack        this machine: a node binary and a pruned node_modules into
#                                    build/gpu-carry/ (the GPU machine has no Node and no npm)
#   scripts/gpu-check.sh cpu-check   this machine: every step that needs no GPU, on a staged copy of
#                                    the tree as the device tool ships it: the carried bundle, the
#                                    plain-cmake build (CUDA off: no cuBLASLt here), a CUDA-linked addon
#                                    without cuBLASLt (a stub) from that build's objects, test:gpu and
#                                    the GPU benchmarks against both (device tests skip, saying why),
#                                    and test:gpu against a CPU emulation of cuda.* (test/cuda/emulate.ts)
#   scripts/gpu-check.sh run         GPU machine: the whole check (~10 minutes at most)
#
# On the device tool, after `pack` here:
#   run(command="bash scripts/gpu-check.sh run", carry=["build/gpu-carry"], timeout_s=600)
# $OUT receives summary.txt (the table), build.log, test-gpu.txt, bench.txt, device.txt.
#
# Why plain cmake and not cmake-js: cmake-js needs npm's dependency tree and would fetch Node
# headers without the registry; it only passes CMAKE_JS_INC (node-api-headers + node-addon-api
# include dirs, both carried), an empty CMAKE_JS_SRC/CMAKE_JS_LIB on Linux, and the output folder.
# Why mocha directly and not `npm run test:gpu`: there is no npm there; the files and options are
# those of .mocharc.gpu.json, run one process per file (see test_gpu).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARRY="$ROOT/build/gpu-carry"
MODE="${1:-}"

log() { printf '[gpu-check %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- pack (this machine) -----------------------------------------------------------------------
pack() {
  command -v xz >/dev/null || die "xz is needed to pack the node binary"
  mkdir -p "$CARRY"
  local node_bin
  node_bin="$(command -v node)" || die "no node on PATH"
  log "compressing $node_bin ($(node --version)) with xz"
  xz -T2 -6 -c "$node_bin" > "$CARRY/node.xz.tmp" && mv "$CARRY/node.xz.tmp" "$CARRY/node.xz"
  # Runtime and build-time packages only: no TypeScript compiler (tsx transpiles), no sharp or its
  # libvips (the GPU tests and benchmarks do not decode images), no type packages, no cmake-js.
  log "packing node_modules (pruned)"
  tar -C "$ROOT" -cJf "$CARRY/node_modules.tar.xz.tmp" \
    --exclude='node_modules/typescript' --exclude='node_modules/@img' --exclude='node_modules/sharp' \
    --exclude='node_modules/@types' --exclude='node_modules/cmake-js' --exclude='node_modules/.cache' \
    node_modules
  mv "$CARRY/node_modules.tar.xz.tmp" "$CARRY/node_modules.tar.xz"
  du -h "$CARRY"/* >&2
  log "carry: [\"build/gpu-carry\"] ($(du -sm "$CARRY" | cut -f1) MiB; the device tool's limit is 64 MiB with the tree)"
}

# ---- shared steps ------------------------------------------------------------------------------
# Unpacks the carried node into $1/bin and node_modules into the tree at $2.
unpack() {
  local tmp="$1" tree="$2"
  [ -f "$CARRY/node.xz" ] && [ -f "$CARRY/node_modules.tar.xz" ] || die "no bundle in $CARRY: run 'scripts/gpu-check.sh pack' on the CPU machine and carry build/gpu-carry"
  mkdir -p "$tmp/bin"
  xz -dc "$CARRY/node.xz" > "$tmp/bin/node"
  chmod +x "$tmp/bin/node"
  rm -rf "$tree/node_modules"
  tar -C "$tree" -xJf "$CARRY/node_modules.tar.xz"
  export PATH="$tmp/bin:$PATH"
  for pkg in mocha tsx chai esbuild node-addon-api node-api-headers; do
    [ -d "$tree/node_modules/$pkg" ] || die "the carried node_modules lacks $pkg"
  done
  log "node $(node --version) from the bundle; node_modules unpacked"
}

# Configures and builds the addon in $1/build/$2 with STIC_CUDA=$3 using $4 jobs, with the kernel
# lab the GPU tests and benchmarks call (STIC_LAB=ON); the libraries land in $1/build/$2/Release/
# (stic.node, stic_lab.node). Plain cmake with the include dirs cmake-js would pass.
build_addon() {
  local tree="$1" dir="$2" cuda="$3" jobs="$4"
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  local inc="$tree/node_modules/node-api-headers/include;$tree/node_modules/node-addon-api"
  cmake -S "$tree" -B "$tree/build/$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSTIC_CUDA="$cuda" \
    -DCMAKE_CUDA_ARCHITECTURES="${STIC_CUDA_ARCH:-90}" -DCMAKE_JS_INC="$inc" -DCMAKE_JS_SRC= -DCMAKE_JS_LIB= -DSTIC_LAB=ON \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$tree/build/$dir/Release" || die "cmake configure failed"
  cmake --build "$tree/build/$dir" -j "$jobs" || die "cmake build failed"
  local f
  for f in stic.node stic_lab.node; do
    [ -f "$tree/build/$dir/Release/$f" ] || die "the build produced no $tree/build/$dir/Release/$f"
  done
}

# The GPU suite (npm run test:gpu's files and options), one mocha process per file: a kernel that
# corrupts its CUDA context (an illegal address is sticky) then fails only its own file. Writes the
# reports to $2 and prints "passing failing pending rc", summed over the files.
test_gpu() {
  local tree="$1" out="$2"
  local pass=0 fail=0 pend=0 rc=0 f r n
  : > "$out"
  for f in "$tree"/test/cuda/*.test.ts; do
    r=0
    (cd "$tree" && node node_modules/mocha/bin/mocha.js --no-config --import=tsx --timeout 600000 --reporter spec "$f") \
      > "$out.part" 2>&1 || r=$?
    cat "$out.part" >> "$out"
    n=$(grep -Eo '[0-9]+ passing' "$out.part" | grep -Eo '[0-9]+' || true); pass=$((pass + ${n:-0}))
    n=$(grep -Eo '[0-9]+ failing' "$out.part" | grep -Eo '[0-9]+' || true); fail=$((fail + ${n:-0}))
    n=$(grep -Eo '[0-9]+ pending' "$out.part" | grep -Eo '[0-9]+' || true); pend=$((pend + ${n:-0}))
    [ "$r" = 0 ] || rc=$r
  done
  rm -f "$out.part"
  echo "$pass $fail $pend $rc"
}

bench_gpu() {
  local tree="$1" out="$2"
  (cd "$tree" && node --import tsx bench/run.ts cuda) > "$out" 2>&1
}

# ---- cpu-check (this machine) ------------------------------------------------------------------
# A CUDA-linked addon pair without cuBLASLt, linked from a CPU build's objects: stic.node with
# addon.cpp recompiled with STIC_WITH_CUDA (buildInfo().cuda), and the kernel lab stic_lab.node with
# the lab's cuda_binding*.cpp files recompiled with it, a stub in place of makeCublasLtGemm, the
# stic_cuda_check kernels and the static CUDA runtime, linked against that stic.node. They load
# anywhere; without a driver every CUDA call fails cleanly, which is what the binding tests check.
link_nodevice_addon() {
  local tree="$1" bdir="$1/build/$2" out="$1/build/$2/nodevice"
  mkdir -p "$out"
  cat > "$out/stub_cublaslt.cpp" <<'EOF2'
// cpu-check only: this build has no cuBLASLt (see scripts/gpu-check.sh).
#include "cuda/gemm.cuh"
namespace stic::cuda {
Result<std::unique_ptr<Gemm>> makeCublasLtGemm(size_t) {
  return error(Code::Unsupported, "cuBLASLt is not linked into this CPU-side check build");
}
}  // namespace stic::cuda
EOF2
  local cuda_inc="${CUDA_HOME:-/usr/local/cuda}/include" cudart="${CUDA_HOME:-/usr/local/cuda}/lib64/libcudart_static.a"
  [ -f "$cudart" ] || die "no $cudart: cannot link the CUDA-enabled check addon"
  local flags=(-std=c++17 -O1 -fPIC -fopenmp -mavx2 -mfma -mf16c -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DSTIC_WITH_CUDA=1
    -I"$tree/node_modules/node-addon-api" -I"$tree/node_modules/node-api-headers/include" -I"$tree/native" -I"$cuda_inc")
  local libs=(-fopenmp -ldl -lrt -lpthread)
  local f objs=() labobjs=()
  g++ "${flags[@]}" -c "$tree/native/addon/addon.cpp" -o "$out/addon.cpp.o"
  objs+=("$out/addon.cpp.o")
  while IFS= read -r f; do objs+=("$f"); done < <(find "$bdir/CMakeFiles/stic.dir" -name '*.o' | grep -v -E '/addon/addon\.cpp\.o$')
  g++ -shared -Wl,-soname,stic.node -o "$out/stic.node" "${objs[@]}" "${libs[@]}"
  for f in "$tree"/native/addon/lab/cuda_binding*.cpp "$out/stub_cublaslt.cpp"; do
    g++ "${flags[@]}" -c "$f" -o "$out/$(basename "$f").o"
    labobjs+=("$out/$(basename "$f").o")
  done
  while IFS= read -r f; do labobjs+=("$f"); done < <(find "$bdir/CMakeFiles/stic_lab.dir" -name '*.o' | grep -v -E '/lab/cuda_binding')
  local lib
  lib="$(find "$bdir" -name 'libstic_cuda_check.a' | head -1)"
  [ -n "$lib" ] || die "no libstic_cuda_check.a in $bdir (nvcc missing?)"
  g++ -shared -Wl,-soname,stic_lab.node -Wl,-rpath,'$ORIGIN' -o "$out/stic_lab.node" "${labobjs[@]}" "$lib" "$cudart" "$out/stic.node" "${libs[@]}"
  # Every symbol but Node-API's must be defined: the pair is complete apart from cuBLASLt.
  local missing
  missing="$( { g++ -shared -o "$out/closure-check.node" "${objs[@]}" "${libs[@]}" -Wl,--no-undefined 2>&1;
                g++ -shared -o "$out/closure-check.node" "${labobjs[@]}" "$lib" "$cudart" "$out/stic.node" "${libs[@]}" -Wl,--no-undefined 2>&1; } \
    | grep 'undefined reference' | grep -v -E 'napi_|node_api_' | sort -u || true)"
  rm -f "$out/closure-check.node"
  [ -z "$missing" ] || die "unresolved symbols besides Node-API: $missing"
  echo "$out/stic.node"
}

cpu_check() {
  local stage="$ROOT/build/gpu-check"
  local tree="$stage/tree"
  bash -n "$0" || die "bash -n failed"
  log "staging the tree as the device tool ships it (tracked + untracked, not ignored) into $tree"
  rm -rf "$tree"
  mkdir -p "$tree"
  (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$tree" -xf -
  unpack "$stage" "$tree"
  log "plain-cmake build (STIC_CUDA=auto: CUDA off here, stic_cuda_check compiled) with ${STIC_JOBS:-2} jobs"
  local t0=$SECONDS
  build_addon "$tree" cpu auto "${STIC_JOBS:-2}" > "$stage/build.log" 2>&1 || { tail -30 "$stage/build.log" >&2; die "build failed (log: $stage/build.log)"; }
  log "built in $((SECONDS - t0)) s"
  local cpu_addon="$tree/build/cpu/Release/stic.node" cuda_addon counts
  cuda_addon="$(link_nodevice_addon "$tree" cpu)"
  log "CUDA-linked addon without a device: $cuda_addon"
  counts="$(STIC_ADDON_PATH="$cpu_addon" test_gpu "$tree" "$stage/test-gpu-cpu-addon.txt")"
  log "test:gpu, CPU addon: passing/failing/pending/rc = $counts (every GPU test must skip)"
  read -r p f s rc <<< "$counts"
  [ "$f" = 0 ] && [ "$rc" = 0 ] || { cat "$stage/test-gpu-cpu-addon.txt" >&2; die "test:gpu failed with the CPU addon"; }
  counts="$(STIC_ADDON_PATH="$cuda_addon" test_gpu "$tree" "$stage/test-gpu-nodevice.txt")"
  log "test:gpu, CUDA addon without a device: passing/failing/pending/rc = $counts"
  read -r p f s rc <<< "$counts"
  [ "$f" = 0 ] && [ "$rc" = 0 ] || { cat "$stage/test-gpu-nodevice.txt" >&2; die "test:gpu failed with the CUDA addon"; }
  counts="$(STIC_GPU_TEST_EMULATE=cpu STIC_ADDON_PATH="$cpu_addon" test_gpu "$tree" "$stage/test-gpu-emulated.txt")"
  log "test:gpu against the CPU emulation of cuda.* (checks the tests, not the kernels): $counts"
  read -r p f s rc <<< "$counts"
  [ "$f" = 0 ] && [ "$rc" = 0 ] || { cat "$stage/test-gpu-emulated.txt" >&2; die "the GPU tests fail against the CPU emulation"; }
  STIC_ADDON_PATH="$cuda_addon" bench_gpu "$tree" "$stage/bench-nodevice.txt" || { cat "$stage/bench-nodevice.txt" >&2; die "the GPU benchmarks failed without a device"; }
  log "GPU benchmarks without a device: $(tail -1 "$stage/bench-nodevice.txt")"
  log "cpu-check passed; outputs in $stage"
}

# ---- run (GPU machine) -------------------------------------------------------------------------
run_gpu() {
  local out="${OUT:-$ROOT/build/gpu-out}" tmp
  mkdir -p "$out"
  tmp="$(mktemp -d)"
  export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
  local rows=() t0=$SECONDS t
  {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
    nvcc --version 2>&1 | tail -2 || true
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' 2>&1 || true
  } > "$out/device.txt"
  log "device: $(head -1 "$out/device.txt")"

  t=$SECONDS
  unpack "$tmp" "$ROOT" 2>> "$out/build.log"
  rows+=("unpack|ok|$((SECONDS - t))|node $(node --version)")

  t=$SECONDS
  if timeout 420 bash -c "set -euo pipefail; $(declare -f log die build_addon); build_addon '$ROOT' gpu on ${STIC_JOBS:-16}" >> "$out/build.log" 2>&1; then
    rows+=("build|ok|$((SECONDS - t))|STIC_CUDA=on, sm_${STIC_CUDA_ARCH:-90}")
  else
    rows+=("build|FAILED|$((SECONDS - t))|see build.log")
    tail -40 "$out/build.log" >&2
    print_summary "$out" "${rows[@]}"
    return 1
  fi
  export STIC_ADDON_PATH="$ROOT/build/gpu/Release/stic.node"
  node -e "const b=require(process.env.STIC_ADDON_PATH);const i=b.buildInfo();if(!i.cuda)process.exit(3);console.log(JSON.stringify(b.cuda.deviceInfo()))" \
    >> "$out/device.txt" 2>&1 || log "warning: the built addon reports no CUDA backend or no device (device.txt)"

  t=$SECONDS
  local counts p f s rc status=ok
  counts="$(timeout 240 bash -c "$(declare -f test_gpu); test_gpu '$ROOT' '$out/test-gpu.txt'")" || counts="0 0 0 124"
  read -r p f s rc <<< "$counts"
  [ "$f" = 0 ] && [ "$rc" = 0 ] || status=FAILED
  rows+=("test:gpu|$status|$((SECONDS - t))|$p passing, $f failing, $s pending")

  t=$SECONDS
  local left=$((560 - (SECONDS - t0)))
  [ "$left" -gt 30 ] || left=30
  if timeout "$left" bash -c "$(declare -f bench_gpu); bench_gpu '$ROOT' '$out/bench.txt'"; then
    rows+=("bench|ok|$((SECONDS - t))|bench.txt")
  else
    rows+=("bench|FAILED|$((SECONDS - t))|see bench.txt (limit ${left} s)")
  fi
  rows+=("total||$((SECONDS - t0))|")
  print_summary "$out" "${rows[@]}"
  rm -rf "$tmp"
}

# The one table: steps, then the failing tests' titles, then the benchmark tables.
print_summary() {
  local out="$1"
  shift
  {
    echo "== stic GPU check: $(head -1 "$out/device.txt" 2>/dev/null) =="
    printf '%-10s %-7s %7s  %s\n' step status seconds note
    local r
    for r in "$@"; do
      IFS='|' read -r name status secs note <<< "$r"
      printf '%-10s %-7s %7s  %s\n' "$name" "$status" "$secs" "$note"
    done
    if [ -f "$out/test-gpu.txt" ] && grep -q failing "$out/test-gpu.txt"; then
      echo
      echo "-- failing tests (first 40 lines) --"
      sed -n '/failing/,$p' "$out/test-gpu.txt" | head -40
    fi
    if [ -f "$out/bench.txt" ]; then
      echo
      grep -v '^running ' "$out/bench.txt" | sed -n '/^## /,$p'
    fi
  } | tee "$out/summary.txt"
}

case "$MODE" in
  pack) pack ;;
  cpu-check) cpu_check ;;
  run) run_gpu ;;
  *) echo "usage: $0 pack | cpu-check | run" >&2; exit 2 ;;
esac
