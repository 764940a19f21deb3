// native/cpu mirrors native/cuda file for file (native/cpu/README.md): every CUDA kernel file
// cuda/<stem>.cu has its CPU twin cpu/<stem>.cpp, the reference it is tested against; the README's
// table names every CUDA file and only CPU files that exist; a backward sits beside its forward.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cudaDir = path.join(root, 'native/cuda');
const cpuDir = path.join(root, 'native/cpu');

// CUDA kernel files whose CPU twin has another stem. Keep this list short and say why.
const TWIN_EXCEPTIONS: Record<string, string> = {
  // The fused head's device row kernels; fused_head.cu holds its host-side chunk loop. The CPU
  // does both in one file.
  head: 'fused_head',
};

// CUDA files that are not kernels, whose CPU twin therefore lives outside native/cpu.
const TWINS_OUTSIDE_CPU: Record<string, string> = {
  cuda_backend: 'native/core/cpu_backend.cpp', // the Backend (memory, copies, ops table) of core/backend.h
};

// Backward files whose forward lives under another stem.
const FORWARD_OF_BACKWARD: Record<string, string> = {
  linear: 'gemm', // nn.Linear's forward is a GEMM
};

// The CPU stem a CUDA file needs: its name less `.cu` and the `.blas` / `.nccl` suffix that only
// decides where it compiles (native/cuda/README.md), then the exception list.
function cpuTwinStem(cudaFile: string): string {
  const stem = cudaFile.replace(/\.cu$/, '').replace(/\.(blas|nccl)$/, '');
  return TWIN_EXCEPTIONS[stem] ?? stem;
}

// The CUDA kernel files (among cudaFiles) that have no cpu/<stem>.cpp in cpuFiles.
function missingTwins(cudaFiles: string[], cpuFiles: string[]): string[] {
  const cpu = new Set(cpuFiles);
  return cudaFiles.filter((f) => f.endsWith('.cu') && !(cpuTwinStem(f) in TWINS_OUTSIDE_CPU) && !cpu.has(`${cpuTwinStem(f)}.cpp`));
}

const cudaFiles = readdirSync(cudaDir).sort();
const cpuFiles = readdirSync(cpuDir).sort();

describe('native layout: native/cpu mirrors native/cuda', () => {
  it('finds the kernel files it checks', () => {
    expect(cudaFiles.filter((f) => f.endsWith('.cu')).length).to.be.greaterThan(10);
    expect(cpuFiles).to.include('ops.h');
  });

  it('every native/cuda/*.cu has its CPU twin native/cpu/<stem>.cpp', () => {
    expect(missingTwins(cudaFiles, cpuFiles)).to.deep.equal([]);
  });

  it('reports a missing twin (the check can fail)', () => {
    expect(missingTwins(['adamw.cu', 'gemm.blas.cu', 'head.cu', 'warp.cu', 'x.cuh'], ['adamw.cpp', 'gemm.cpp', 'fused_head.cpp'])).to.deep.equal([
      'warp.cu',
    ]);
  });

  it('the exception lists name files that exist', () => {
    for (const [cuda, cpu] of Object.entries(TWIN_EXCEPTIONS)) {
      expect(existsSync(path.join(cudaDir, `${cuda}.cu`)), `native/cuda/${cuda}.cu`).to.equal(true);
      expect(existsSync(path.join(cpuDir, `${cpu}.cpp`)), `native/cpu/${cpu}.cpp`).to.equal(true);
    }
    for (const [cuda, twin] of Object.entries(TWINS_OUTSIDE_CPU)) {
      expect(existsSync(path.join(cudaDir, `${cuda}.cu`)), `native/cuda/${cuda}.cu`).to.equal(true);
      expect(existsSync(path.join(root, twin)), twin).to.equal(true);
    }
  });

  it('every *_backward.cpp sits beside its forward', () => {
    const backward = cpuFiles.filter((f) => f.endsWith('_backward.cpp'));
    expect(backward.length).to.be.greaterThan(3);
    for (const f of backward) {
      const op = f.replace(/_backward\.cpp$/, '');
      const forward = `${FORWARD_OF_BACKWARD[op] ?? op}.cpp`;
      expect(cpuFiles, `native/cpu/${f}: its forward native/cpu/${forward}`).to.include(forward);
    }
  });

  it("native/cpu/README.md's table names every CUDA file, and only CPU files that exist", () => {
    const readme = readFileSync(path.join(cpuDir, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| `/.test(l));
    const named = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const cudaNamed = new Set(rows.flatMap((r) => named(r.split('|')[1])));
    for (const f of cudaFiles.filter((f) => /\.(cu|cuh|h)$/.test(f))) expect(cudaNamed.has(f), `native/cuda/${f} in the table`).to.equal(true);
    const cpuNamed = rows.flatMap((r) => named(r.split('|').slice(2).join('|'))).filter((f) => /^[\w.]+\.(cpp|h)$/.test(f));
    expect(cpuNamed.length).to.be.greaterThan(20);
    for (const f of cpuNamed) expect(existsSync(path.join(cpuDir, f)), `native/cpu/${f} (named in the table)`).to.equal(true);
  });

  it("every file of native/cpu is named in its README (the table, or the list of files with no CUDA twin)", () => {
    const readme = readFileSync(path.join(cpuDir, 'README.md'), 'utf8');
    // `gemm_kernels_{scalar,avx2}.cpp` names gemm_kernels_scalar.cpp and gemm_kernels_avx2.cpp.
    const expand = (n: string): string[] => {
      const m = /^(.*)\{([^}]*)\}(.*)$/.exec(n);
      return m ? m[2].split(',').map((part) => `${m[1]}${part}${m[3]}`) : [n];
    };
    const named = new Set([...readme.matchAll(/`([^`]+)`/g)].flatMap((m) => expand(m[1])));
    expect(cpuFiles.filter((f) => /\.(cpp|h)$/.test(f) && !named.has(f))).to.deep.equal([]);
  });

  it('native/train holds no kernels any more (they moved here) and there is one vec_math.h', () => {
    const train = path.join(root, 'native/train');
    expect(existsSync(train) ? readdirSync(train).filter((f) => /\.(cpp|h)$/.test(f)) : []).to.deep.equal([]);
    const vecMath = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? vecMath(path.join(dir, e.name)) : e.name === 'vec_math.h' ? [path.relative(root, path.join(dir, e.name))] : [],
      );
    expect(vecMath(path.join(root, 'native'))).to.deep.equal(['native/cpu/vec_math.h']);
  });
});

// The model is written once against the ops table (native/core/ops.h): no file of native/model
// names a CPU kernel (`cpu::`), includes a header of native/cpu or fetches the CPU backend
// (`cpuBackend()`: the model computes on the Backend it was given, its weights' or its trainer's),
// so a backend is a table, not a change to the model.
const modelDir = path.join(root, 'native/model');

// "file:line: text" for each line of `files` that `matches`.
function matchingLines(files: { name: string; text: string }[], matches: (line: string) => boolean): string[] {
  return files.flatMap(({ name, text }) =>
    text
      .split('\n')
      .map((line, i) => ({ line, at: `${name}:${i + 1}` }))
      .filter(({ line }) => matches(line))
      .map(({ line, at }) => `${at}: ${line.trim()}`),
  );
}

// The lines of `files` that call into native/cpu directly or take the CPU backend.
function kernelReferences(files: { name: string; text: string }[]): string[] {
  return matchingLines(files, (line) => /cpu::|#include\s+"cpu\/|\bcpuBackend\s*\(/.test(line));
}

describe('native layout: native/model computes only through the ops table', () => {
  const modelFiles = readdirSync(modelDir)
    .filter((f) => /\.(cpp|h)$/.test(f))
    .map((f) => ({ name: `native/model/${f}`, text: readFileSync(path.join(modelDir, f), 'utf8') }));

  it('finds the model files it checks', () => {
    expect(modelFiles.length).to.be.greaterThan(30);
    expect(modelFiles.map((f) => f.name)).to.include('native/model/decoder.cpp');
  });

  it('no file in native/model calls a cpu:: function, includes a native/cpu header or takes cpuBackend()', () => {
    expect(kernelReferences(modelFiles)).to.deep.equal([]);
  });

  it('reports a direct kernel call, a kernel include and the CPU backend (the check can fail)', () => {
    const text =
      '#include "core/ops.h"\n#include "cpu/ops.h"\n  ops.norm.rmsnorm_forward(x);\n  cpu::add_inplace(a, b, n);\n' +
      '  auto a = Arena::create(cpuBackend(), Lifetime::Scratch, plan);\n  auto b = Arena::create(backend, Lifetime::Scratch, plan);\n';
    expect(kernelReferences([{ name: 'native/model/x.cpp', text }])).to.deep.equal([
      'native/model/x.cpp:2: #include "cpu/ops.h"',
      'native/model/x.cpp:4: cpu::add_inplace(a, b, n);',
      'native/model/x.cpp:5: auto a = Arena::create(cpuBackend(), Lifetime::Scratch, plan);',
    ]);
  });
});

// The model's activations move through the ops table too (memory.copy / memory.fill), so a device
// backend can run the model: the files that compute on activations make no host memcpy / memset /
// std::fill / std::copy (load-time copies of weights and configuration live elsewhere: the
// weight loader, the parameter stores, the LoRA merge).
const ACTIVATION_FILES = [
  'vision_tower', 'projector', 'llava', 'image_layout', 'trainer', 'train_head',
  'decoder', 'decoder_layer', 'generation', 'kv_cache', 'call_buffers',
].flatMap((stem) =>
  ['cpp', 'h'].map((ext) => `${stem}.${ext}`),
);

// The lines of `files` that move memory on the host (comments aside).
function hostMemoryOps(files: { name: string; text: string }[]): string[] {
  return matchingLines(files, (line) => /\b(memcpy|memset|memmove)\s*\(|std::(fill|fill_n|copy|copy_n)\s*\(/.test(line.replace(/\/\/.*$/, '')));
}

describe('native layout: the model moves its activations through the ops table', () => {
  const files = ACTIVATION_FILES.filter((f) => existsSync(path.join(modelDir, f))).map((f) => ({
    name: `native/model/${f}`,
    text: readFileSync(path.join(modelDir, f), 'utf8'),
  }));

  it('finds the files it checks', () => {
    expect(files.map((f) => f.name)).to.include.members(['native/model/vision_tower.cpp', 'native/model/projector.cpp', 'native/model/trainer.cpp']);
  });

  it('no memcpy / memset / std::fill / std::copy in the vision, projector, llava, decoder, generation, trainer and pretrainer files', () => {
    expect(hostMemoryOps(files)).to.deep.equal([]);
  });

  it('reports a host copy and fill (the check can fail), not one in a comment or through the table', () => {
    const text = '  std::memcpy(a, b, n);\n  ops.memory.copy(a, b, n);\n  // memset(a, 0, n) was here\n  std::fill_n(a, n, 0.0f);\n';
    expect(hostMemoryOps([{ name: 'native/model/x.cpp', text }])).to.deep.equal([
      'native/model/x.cpp:1: std::memcpy(a, b, n);',
      'native/model/x.cpp:4: std::fill_n(a, n, 0.0f);',
    ]);
  });
});
