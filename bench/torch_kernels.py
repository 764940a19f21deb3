"""PyTorch CPU baselines for bench/cpu_kernels.bench.ts, timed in one process.

Reads a JSON spec from stdin: {"threads": n, "repeats": r, "gemm": [[M, N, K], ...],
"attention": [[T, S, Hq, Hkv, hd, causal], ...]} and prints one JSON object with the fastest of r
timed calls of each case in milliseconds (the machine may be shared: other load only ever slows a
call down, so the minimum is the most repeatable estimate), in the same order, plus the torch
version and the BLAS library it loaded.
GEMM is F.linear (x[M,K] @ w[N,K]^T), the nn.Linear call the model makes. Attention is what Hugging
Face's eager attention does (matmul, mask, softmax, matmul) with grouped-query heads repeated,
because torch 1.13 has no fused scaled_dot_product_attention.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def best_ms(fn, repeats):
    fn()  # warm-up: first-touch allocations and BLAS thread start
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times)


def gemm_case(m, n, k, repeats):
    x = torch.randn(m, k)
    w = torch.randn(n, k)
    return best_ms(lambda: F.linear(x, w), repeats)


def attention_case(t, s, hq, hkv, hd, causal, repeats):
    q = torch.randn(1, hq, t, hd)
    k = torch.randn(1, hkv, s, hd)
    v = torch.randn(1, hkv, s, hd)
    # Causal with a KV cache: query i sits at position s - t + i and sees keys [0, s - t + i].
    mask = torch.full((t, s), float("-inf")).triu(s - t + 1) if causal else None
    scale = 1.0 / math.sqrt(hd)

    def run():
        kk = k.repeat_interleave(hq // hkv, dim=1) if hq != hkv else k
        vv = v.repeat_interleave(hq // hkv, dim=1) if hq != hkv else v
        scores = torch.matmul(q, kk.transpose(-1, -2)) * scale
        if mask is not None:
            scores = scores + mask
        return torch.matmul(torch.softmax(scores, dim=-1), vv)

    return best_ms(run, repeats)


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(spec["threads"])
    repeats = spec["repeats"]
    with torch.no_grad():
        gemm = [gemm_case(m, n, k, repeats) for m, n, k in spec["gemm"]]
        attention = [attention_case(*case, repeats) for case in spec["attention"]]
    print(json.dumps({"torch": torch.__version__, "blas": loaded_blas(), "threads": torch.get_num_threads(),
                      "gemm": gemm, "attention": attention}))


def loaded_blas():
    """The BLAS library this process actually mapped (Debian's torch links the libblas.so.3
    alternative, so the build config only says "generic")."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1].rsplit("/", 1)[-1] for line in f if "blas" in line.lower()}
        return ", ".join(sorted(libs)) or "no BLAS library mapped"
    except OSError:
        return "unknown (no /proc/self/maps)"


if __name__ == "__main__":
    main()
