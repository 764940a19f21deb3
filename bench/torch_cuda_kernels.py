"""PyTorch GPU baselines for bench/cuda_kernels.bench.ts, timed in one process on the same card.

Reads a JSON spec from stdin: {"repeats": r, "cases": [{"op": ..., ...}, ...]} and prints one JSON
object: {"torch": version, "device": name, "results": [{"ms": mean ms per call, "peakBytes": bytes
above the inputs (head only)}, ...]} in case order. Timing: CUDA events around r back-to-back calls
after one warm-up call, the same way the addon times its kernels (device time, no host copies).
Each baseline is what the PyTorch / transformers stack the public STIC code uses runs:
  gemm       torch.matmul in bf16 (cuBLAS)
  rmsnorm    transformers' LlamaRMSNorm forward (fp32 variance, eager)
  swiglu     F.silu(gate) * up (eager, as LlamaMLP)
  attention  F.scaled_dot_product_attention (flash backend), forward, or forward + backward
  head       logits = h @ W^T, log_softmax in fp32, gather, backward to h (the naive DPO head)
  sample     transformers' temperature -> top-k -> top-p warpers, softmax, multinomial
  corrupt    torchvision ColorJitter per image on the GPU + batched bilinear interpolate (antialias)
"""
import json
import sys

import torch
import torch.nn.functional as F

DEV = "cuda"
BF16 = torch.bfloat16


def timed(fn, repeats):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / repeats


def gemm(c, r):
    a = torch.randn(c["M"], c["K"], device=DEV, dtype=BF16)
    b = torch.randn(c["K"], c["N"], device=DEV, dtype=BF16)
    return {"ms": timed(lambda: torch.matmul(a, b), r)}


def rmsnorm(c, r):
    x = torch.randn(c["T"], c["C"], device=DEV, dtype=BF16)
    w = torch.randn(c["C"], device=DEV, dtype=BF16)

    def f():
        h = x.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        return w * (h * torch.rsqrt(var + 1e-6)).to(BF16)

    return {"ms": timed(f, r)}


def swiglu(c, r):
    g = torch.randn(c["n"], device=DEV, dtype=BF16)
    u = torch.randn(c["n"], device=DEV, dtype=BF16)
    return {"ms": timed(lambda: F.silu(g) * u, r)}


def attention(c, r):
    shape_q, shape_kv = (1, c["Hq"], c["T"], c["hd"]), (1, c["Hkv"], c["T"], c["hd"])
    backward = c.get("backward", False)
    q = torch.randn(shape_q, device=DEV, dtype=BF16, requires_grad=backward)
    k = torch.randn(shape_kv, device=DEV, dtype=BF16, requires_grad=backward)
    v = torch.randn(shape_kv, device=DEV, dtype=BF16, requires_grad=backward)
    gqa = c["Hq"] != c["Hkv"]
    dout = torch.randn(shape_q, device=DEV, dtype=BF16)

    def f():
        o = F.scaled_dot_product_attention(q, k, v, is_causal=c["causal"], enable_gqa=gqa)
        if backward:
            o.backward(dout)
        return o

    return {"ms": timed(f, r)}


def head(c, r):
    T, D, V = c["T"], c["D"], c["V"]
    h = torch.randn(T, D, device=DEV, dtype=BF16, requires_grad=True)
    W = torch.randn(V, D, device=DEV, dtype=BF16) * 0.02
    targets = torch.randint(0, V, (T,), device=DEV)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()

    def f():
        logits = h @ W.t()
        logp = logits.float().log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)
        logp.sum().backward()
        h.grad = None

    ms = timed(f, r)
    return {"ms": ms, "peakBytes": torch.cuda.max_memory_allocated() - base}


def sample(c, r):
    B, V = c["B"], c["V"]
    logits = torch.randn(B, V, device=DEV) * 3

    def f():
        x = logits / c["temperature"]
        kth = torch.topk(x, c["topK"])[0][..., -1, None]
        x = x.masked_fill(x < kth, float("-inf"))
        sorted_x, idx = torch.sort(x, descending=False)
        cum = sorted_x.softmax(-1).cumsum(-1)
        remove = cum <= (1 - c["topP"])
        remove[..., -1:] = False
        x = x.masked_fill(remove.scatter(1, idx, remove), float("-inf"))
        return torch.multinomial(x.softmax(-1), 1)

    return {"ms": timed(f, r)}


def corrupt(c, r):
    from torchvision.transforms import ColorJitter

    n, side, low = c["images"], c["side"], c["lowres"]
    imgs = torch.randint(0, 256, (n, 3, side, side), device=DEV, dtype=torch.uint8)
    half = n // 2
    jitter = ColorJitter(brightness=(0.5, 1.5), hue=(-0.3, 0.3))

    def f():
        for i in range(half):  # per image: each draws its own factors, as the STIC pipeline does
            jitter(imgs[i])
        F.interpolate(imgs[half:].float(), size=(low, low), mode="bilinear", antialias=True)

    return {"ms": timed(f, max(1, r // 4))}


OPS = {"gemm": gemm, "rmsnorm": rmsnorm, "swiglu": swiglu, "attention": attention, "head": head, "sample": sample,
       "corrupt": corrupt}


def main():
    spec = json.load(sys.stdin)
    torch.manual_seed(0)
    results = []
    for case in spec["cases"]:
        try:
            results.append(OPS[case["op"]](case, spec["repeats"]))
        except Exception as e:  # one failing baseline must not hide the others
            results.append({"ms": None, "error": f"{type(e).__name__}: {e}"})
        torch.cuda.empty_cache()
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "results": results}))


if __name__ == "__main__":
    main()
