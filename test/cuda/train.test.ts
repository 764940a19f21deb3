// CUDA training kernels against their CPU twins: GEMM (the tiled reference kernel and cuBLASLt),
// the fused linear + log-softmax + gather head (label and top-alt modes, with and without the saved
// Jacobian, the recompute backward with and without the lm_head gradient dW, several row chunks and
// vocabulary blocks, ignored rows), the DPO/SFT losses and the
// per-sequence sums, and multi-tensor AdamW with device-side global-norm clipping.
// Legend: M, N, K matrix sizes; T rows, D hidden, V vocab, B pairs, n elements.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { asStored, cudaKernels, describeCuda, DTYPES, expectNear } from './helpers.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(31337);

describeCuda('cuda: GEMM vs the CPU sgemm', () => {
  const shapes = [
    { transA: false, transB: false, M: 37, N: 45, K: 29 },
    { transA: false, transB: true, M: 64, N: 33, K: 130 },
    { transA: true, transB: false, M: 17, N: 71, K: 40 },
    { transA: true, transB: true, M: 5, N: 9, K: 301 },
  ];
  for (const impl of ['reference', 'cublaslt'] as const) {
    for (const dt of DTYPES) {
      it(`${impl}: every transpose combination, strides and beta (${dt})`, async () => {
        for (const s of shapes) {
          const lda = (s.transA ? s.M : s.K) + 3, ldb = (s.transB ? s.K : s.N) + 2, ldc = s.N + 1;
          const A = asStored(rng.normalArray((s.transA ? s.K : s.M) * lda), dt);
          const B = asStored(rng.normalArray((s.transB ? s.N : s.K) * ldb), dt);
          const C0 = rng.normalArray(s.M * ldc);
          const cpu = Float32Array.from(C0), gpu = Float32Array.from(C0);
          const args = { ...s, alpha: 0.75, beta: 0.5, A, lda, B, ldb, ldc };
          await lab().kernels.sgemm({ ...args, C: cpu });
          await cudaKernels().gemm({ ...args, C: gpu, dtype: dt, impl });
          expectNear(gpu, cpu, 'F32', `${impl} gemm ${JSON.stringify(s)}`, { rel: 1e-4, abs: 1e-5 });
        }
      });
    }
  }
});

describeCuda('cuda: fused head vs the CPU twin', () => {
  const T = 37, D = 48, V = 301, chunk = 16, vocabChunk = 64;
  const targetsOf = () => BigInt64Array.from({ length: T }, (_, t) => BigInt(t % 5 === 0 ? -100 : rng.int(0, V)));
  for (const gemm of ['reference', 'cublaslt'] as const) {
    for (const dt of DTYPES) {
      for (const mode of ['label', 'top-alt'] as const) {
        it(`${mode} forward with the saved Jacobian, backward, backward from the Jacobian (${gemm}, ${dt})`, async () => {
          const h = asStored(rng.normalArray(T * D), dt), W = asStored(rng.normalArray(V * D, 0.3), dt);
          const targets = targetsOf();
          const shape = { T, D, V, chunk, vocabChunk };
          const cpu = { logp: new Float32Array(T), gathered: new BigInt64Array(T), lse: new Float32Array(T), jac: new Float32Array(T * D) };
          const gpu = { logp: new Float32Array(T), gathered: new BigInt64Array(T), lse: new Float32Array(T), jac: new Float32Array(T * D) };
          await lab().trainKernels.fusedHeadForward({ ...cpu, h, W, targets, ...shape, mode });
          const report = await cudaKernels().fusedHeadForward({ ...gpu, h, W, targets, ...shape, mode, dtype: dt, gemm });
          expect(report.workspaceBytes).to.be.greaterThan(0);
          expect(Array.from(gpu.gathered), 'gathered indices').to.deep.equal(Array.from(cpu.gathered));
          expectNear(gpu.logp, cpu.logp, 'F32', 'logp', { rel: 1e-4, abs: 1e-5 });
          expectNear(gpu.lse, cpu.lse, 'F32', 'lse', { rel: 1e-5, abs: 1e-5 });
          expectNear(gpu.jac, cpu.jac, dt, 'jacobian');
          const dlogp = Float32Array.from({ length: T }, (_, t) => (targets[t] < 0n ? 0 : rng.normal()));
          const c = new Float32Array(T * D), g = new Float32Array(T * D);
          await lab().trainKernels.fusedHeadBackward({ dh: c, dlogp, h, W, gathered: cpu.gathered, lse: cpu.lse, ...shape });
          await cudaKernels().fusedHeadBackward({ dh: g, dlogp, h, W, gathered: cpu.gathered, lse: cpu.lse, ...shape, dtype: dt, gemm });
          expectNear(g, c, dt, 'dh (recomputed logits)');
          const dW0 = rng.normalArray(V * D), cW = Float32Array.from(dW0), gW = Float32Array.from(dW0);
          await lab().trainKernels.fusedHeadBackward({ dh: c, dW: cW, dlogp, h, W, gathered: cpu.gathered, lse: cpu.lse, ...shape });
          await cudaKernels().fusedHeadBackward({ dh: g, dW: gW, dlogp, h, W, gathered: cpu.gathered, lse: cpu.lse, ...shape, dtype: dt, gemm });
          expectNear(g, c, dt, 'dh (recomputed logits, with dW)');
          expectNear(gW, cW, dt, 'dW (accumulated lm_head gradient)');
          const jac = asStored(cpu.jac, dt);
          await lab().trainKernels.fusedHeadBackwardSaved({ dh: c, dlogp, jac, T, D });
          await cudaKernels().fusedHeadBackwardSaved({ dh: g, dlogp, jac, T, D, dtype: dt });
          expectNear(g, c, dt, 'dh (saved Jacobian)');
        });
      }
    }
  }
});

describeCuda('cuda: losses vs the CPU twins', () => {
  const B = 7;
  const batch = () => ({
    B,
    policyChosen: Float32Array.from(rng.normalArray(B), (x) => 20 * x - 60),
    policyRejected: Float32Array.from(rng.normalArray(B), (x) => 20 * x - 70),
    refChosen: Float32Array.from(rng.normalArray(B), (x) => 20 * x - 60),
    refRejected: Float32Array.from(rng.normalArray(B), (x) => 20 * x - 70),
    chosenTokens: BigInt64Array.from({ length: B }, () => BigInt(rng.int(1, 40))),
  });
  for (const loss of ['sigmoid', 'hinge', 'ipo'] as const) {
    for (const sftNorm of ['sum', 'mean'] as const) {
      it(`dpoLoss ${loss}, sft regulariser on the ${sftNorm} (metrics and gradients)`, async () => {
        const b = batch();
        const opts = { loss, sftNorm, beta: 0.1, sftWeight: 1 / 1024, meanOver: 12 };
        const c = { dChosen: new Float32Array(B), dRejected: new Float32Array(B) };
        const g = { dChosen: new Float32Array(B), dRejected: new Float32Array(B) };
        const mc = await lab().trainKernels.dpoLoss({ ...b, ...c, ...opts });
        const mg = await cudaKernels().dpoLoss({ ...b, ...g, ...opts });
        for (const key of Object.keys(mc) as (keyof typeof mc)[]) {
          expect(mg[key], key).to.be.closeTo(mc[key], 1e-12 * Math.max(1, Math.abs(mc[key])));
        }
        expectNear(g.dChosen, c.dChosen, 'F32', 'dChosen', { rel: 1e-6, abs: 1e-7 });
        expectNear(g.dRejected, c.dRejected, 'F32', 'dRejected', { rel: 1e-6, abs: 1e-7 });
      });
    }
  }

  it('sftLoss, sumBySequence and sequenceGradToTokens', async () => {
    const T = 131, Bs = 5;
    const logp = Float32Array.from(rng.normalArray(T), (x) => -Math.abs(x) * 3);
    const targets = BigInt64Array.from({ length: T }, (_, t) => BigInt(t % 3 === 0 ? -100 : 7));
    const c = new Float32Array(T), g = new Float32Array(T);
    for (const meanOver of [0, 250]) {
      const lc = await lab().trainKernels.sftLoss({ dlogp: c, logp, targets, T, meanOver });
      const lg = await cudaKernels().sftLoss({ dlogp: g, logp, targets, T, meanOver });
      expect(lg).to.be.closeTo(lc, 1e-12 * Math.abs(lc));
      expect(Array.from(g)).to.deep.equal(Array.from(c));
    }
    const seq = BigInt64Array.from({ length: T }, () => BigInt(rng.int(-1, Bs)));
    const sc = new Float32Array(Bs), sg = new Float32Array(Bs);
    await lab().trainKernels.sumBySequence({ sums: sc, logp, seq, T, B: Bs });
    await cudaKernels().sumBySequence({ sums: sg, logp, seq, T, B: Bs });
    expectNear(sg, sc, 'F32', 'per-sequence sums (fp64 accumulation)', { rel: 1e-7, abs: 1e-7 });
    const dseq = rng.normalArray(Bs);
    await lab().trainKernels.sequenceGradToTokens({ dlogp: c, dseq, seq, T, B: Bs });
    await cudaKernels().sequenceGradToTokens({ dlogp: g, dseq, seq, T, B: Bs });
    expect(Array.from(g)).to.deep.equal(Array.from(c));
  });
});

describeCuda('cuda: AdamW and clipping vs the CPU twins', () => {
  // Three tensors, one longer than a 16384-element block, in two parameter groups.
  const sizes = [7, 20000, 333];
  const make = () => sizes.map((n, i) => ({
    param: rng.normalArray(n), grad: rng.normalArray(n, 0.1), m: rng.normalArray(n, 0.01),
    v: Float32Array.from(rng.normalArray(n, 0.01), (x) => x * x), group: i === 1 ? 1 : 0,
  }));
  const copy = (ps: ReturnType<typeof make>) => ps.map((p) => ({ ...p, param: Float32Array.from(p.param), grad: Float32Array.from(p.grad), m: Float32Array.from(p.m), v: Float32Array.from(p.v) }));
  const groups = [{ lr: 1e-3, weightDecay: 0.01 }, { lr: 2e-4, weightDecay: 0 }];

  it('one step of every tensor matches torch-arithmetic AdamW on the CPU', async () => {
    const p0 = make(), cpu = copy(p0), gpu = copy(p0);
    await lab().trainKernels.adamwStep({ params: cpu, groups, step: 3 });
    const r = await cudaKernels().adamwStep({ params: gpu, groups, step: 3 });
    expect(r.gradNorm).to.equal(null);
    for (let i = 0; i < sizes.length; i++) {
      for (const f of ['param', 'm', 'v'] as const) expectNear(gpu[i][f], cpu[i][f], 'F32', `tensor ${i} ${f}`, { rel: 2e-6, abs: 1e-7 });
    }
  });

  it('clipping decided on the device, then AdamW, matches clipGradNorm + adamwStep on the CPU', async () => {
    const p0 = make(), cpu = copy(p0), gpu = copy(p0);
    const norm = await lab().trainKernels.clipGradNorm({ grads: cpu.map((p) => p.grad), maxNorm: 0.5 });
    await lab().trainKernels.adamwStep({ params: cpu, groups, step: 1 });
    const r = await cudaKernels().adamwStep({ params: gpu, groups, step: 1, maxGradNorm: 0.5 });
    expect(r.skipped).to.equal(false);
    expect(r.gradNorm).to.be.closeTo(norm, 1e-9 * norm);
    expect(norm).to.be.greaterThan(0.5);  // the clip really scaled
    for (let i = 0; i < sizes.length; i++) {
      expectNear(gpu[i].grad, cpu[i].grad, 'F32', `tensor ${i} clipped grad`, { rel: 1e-6, abs: 1e-8 });
      expectNear(gpu[i].param, cpu[i].param, 'F32', `tensor ${i} param`, { rel: 2e-6, abs: 1e-7 });
    }
    const gn = await cudaKernels().gradNorm({ grads: p0.map((p) => p.grad) });
    expect(gn).to.be.closeTo(norm, 1e-9 * norm);
  });

  it('a non-finite gradient norm skips the update and leaves the gradients untouched', async () => {
    const p0 = make();
    p0[2].grad[5] = Number.NaN;
    const gpu = copy(p0);
    const r = await cudaKernels().adamwStep({ params: gpu, groups, step: 2, maxGradNorm: 1 });
    expect(r.skipped).to.equal(true);
    for (let i = 0; i < sizes.length; i++) {
      expect(Array.from(gpu[i].param), `tensor ${i} param`).to.deep.equal(Array.from(p0[i].param));
      expect(Array.from(gpu[i].m), `tensor ${i} m`).to.deep.equal(Array.from(p0[i].m));
    }
  });
});
