#!/usr/bin/env python3
"""Plain PyTorch CPU reference of the LLaVA model bench/model.bench.ts times: the same weights
(config.json + model.safetensors in the llava-hf layout), the same math as native/model/ (CLIP
tower up to the feature layer, GELU-MLP projector, image features spliced at the image tokens,
Llama decoder with RoPE, GQA and SwiGLU), a preallocated KV cache, greedy decoding. Written like
the Hugging Face modules (separate q/k/v projections, matmul + softmax attention: torch 1.13 has no
scaled_dot_product_attention), under torch.inference_mode(). The checkpoint is memory-mapped; the
model computes in its dtype, as transformers does with torch_dtype: fp32 for an F32 checkpoint, bf16
for a BF16 one (oneDNN's bf16 GEMMs, AMX/AVX512-BF16 where the CPU has them), RMSNorm in fp32.

Usage: torch_llava.py MODEL_DIR INPUTS_JSON PIXELS_F32 THREADS REPEATS [WARMUP]
  INPUTS_JSON: {"ids": [[...] per batch item], "new_tokens": N}; PIXELS_F32: raw float32 (B, 3, S, S).
  WARMUP: 1 (default) runs a 2-token generation first; 0 skips it (a 7B prefill is minutes here).
Prints JSON: {"prefill_ms": [...], "decode_ms": [...], "tokens": [[...] per item], "torch": version,
"max_rss_bytes": peak resident memory}.
Legend: B batch, T tokens, D hidden, H heads, Hkv kv heads, hd head dim, P patches, V vocab.
"""
import json
import math
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    """Every tensor as a view of the memory-mapped file (F32, or BF16 through its 16-bit patterns)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[a:b]
        if t["dtype"] == "F32":
            out[name] = torch.from_numpy(raw.view(np.float32).reshape(t["shape"]))
        elif t["dtype"] == "BF16":
            out[name] = torch.from_numpy(raw.view(np.int16).reshape(t["shape"])).view(torch.bfloat16)
        else:
            raise SystemExit(f"{name}: only F32 and BF16 checkpoints are supported here, found {t['dtype']}")
    return out


class Llava:
    def __init__(self, cfg, w):
        self.v, self.t, self.w = cfg["vision_config"], cfg["text_config"], w
        self.image_token = cfg["image_token_index"]
        layer = cfg["vision_feature_layer"]
        self.feature_index = layer if layer >= 0 else self.v["num_hidden_layers"] + 1 + layer
        self.keep_cls = cfg["vision_feature_select_strategy"] == "full"
        t = self.t
        self.hd = t["hidden_size"] // t["num_attention_heads"]
        inv = 1.0 / (t.get("rope_theta", 10000.0) ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.inv_freq = inv
        self.dtype = w["language_model.model.embed_tokens.weight"].dtype

    def vision(self, pixels):  # (B, 3, S, S) -> (B, Ti, D)
        w, v = self.w, self.v
        p = "vision_tower."
        x = F.conv2d(pixels.to(self.dtype), w[p + "embeddings.patch_embedding.weight"], stride=v["patch_size"]).flatten(2).transpose(1, 2)
        cls = w[p + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + w[p + "embeddings.position_embedding.weight"]
        x = F.layer_norm(x, x.shape[-1:], w[p + "pre_layrnorm.weight"], w[p + "pre_layrnorm.bias"], 1e-5)
        H = v["num_attention_heads"]
        for l in range(self.feature_index):  # only the layers the features need
            q = f"{p}encoder.layers.{l}."
            h = F.layer_norm(x, x.shape[-1:], w[q + "layer_norm1.weight"], w[q + "layer_norm1.bias"], 1e-5)
            B, T, C = h.shape
            heads = [F.linear(h, w[f"{q}self_attn.{m}_proj.weight"], w[f"{q}self_attn.{m}_proj.bias"]).view(B, T, H, C // H).transpose(1, 2) for m in "qkv"]
            att = torch.softmax(heads[0] @ heads[1].transpose(-1, -2) / math.sqrt(C // H), dim=-1) @ heads[2]
            x = x + F.linear(att.transpose(1, 2).reshape(B, T, C), w[q + "self_attn.out_proj.weight"], w[q + "self_attn.out_proj.bias"])
            h = F.layer_norm(x, x.shape[-1:], w[q + "layer_norm2.weight"], w[q + "layer_norm2.bias"], 1e-5)
            h = F.linear(h, w[q + "mlp.fc1.weight"], w[q + "mlp.fc1.bias"])
            h = h * torch.sigmoid(1.702 * h)  # quick_gelu
            x = x + F.linear(h, w[q + "mlp.fc2.weight"], w[q + "mlp.fc2.bias"])
        feats = x if self.keep_cls else x[:, 1:]
        m = "multi_modal_projector."
        h = F.gelu(F.linear(feats, w[m + "linear_1.weight"], w[m + "linear_1.bias"]))
        return F.linear(h, w[m + "linear_2.weight"], w[m + "linear_2.bias"])

    def rope(self, x, pos):  # x (B, H, T, hd), rotate_half pairing (i, i + hd/2)
        ang = pos[:, None].float() * self.inv_freq[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], dim=-1).to(x.dtype)
        sin = torch.cat([ang.sin(), ang.sin()], dim=-1).to(x.dtype)
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def decoder(self, x, start, cache):  # x (B, T, D) at positions [start, start + T) -> last hidden (B, D)
        w, t = self.w, self.t
        B, T, D = x.shape
        H, Hkv, hd, eps = t["num_attention_heads"], t["num_key_value_heads"], self.hd, t["rms_norm_eps"]
        pos = torch.arange(start, start + T)
        mask = None
        if T > 1:
            mask = torch.full((T, start + T), float("-inf")).triu(start + 1).to(x.dtype)

        def rms(h, weight):  # in fp32, as LlamaRMSNorm
            h32 = h.float()
            return weight * (h32 * torch.rsqrt(h32.pow(2).mean(-1, keepdim=True) + eps)).to(h.dtype)

        for l in range(t["num_hidden_layers"]):
            p = f"language_model.model.layers.{l}."
            h = rms(x, w[p + "input_layernorm.weight"])
            q = self.rope(F.linear(h, w[p + "self_attn.q_proj.weight"]).view(B, T, H, hd).transpose(1, 2), pos)
            k = self.rope(F.linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, Hkv, hd).transpose(1, 2), pos)
            v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, Hkv, hd).transpose(1, 2)
            kc, vc = cache[l]
            kc[:, :, start : start + T] = k
            vc[:, :, start : start + T] = v
            keys = kc[:, :, : start + T].repeat_interleave(H // Hkv, dim=1)
            vals = vc[:, :, : start + T].repeat_interleave(H // Hkv, dim=1)
            scores = q @ keys.transpose(-1, -2) / math.sqrt(hd)
            if mask is not None:
                scores = scores + mask
            att = torch.softmax(scores, dim=-1) @ vals
            x = x + F.linear(att.transpose(1, 2).reshape(B, T, H * hd), w[p + "self_attn.o_proj.weight"])
            h = rms(x, w[p + "post_attention_layernorm.weight"])
            gate = F.linear(h, w[p + "mlp.gate_proj.weight"])
            x = x + F.linear(F.silu(gate) * F.linear(h, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
        return rms(x[:, -1], w["language_model.model.norm.weight"])

    def logits(self, h):  # (B, D) -> (B, V)
        return F.linear(h, self.w["language_model.lm_head.weight"])

    def generate(self, ids, pixels, new_tokens):
        """Greedy; returns (tokens, prefill seconds, decode seconds). ids (B, T), same length per item."""
        t0 = time.perf_counter()
        feats = self.vision(pixels)
        x = F.embedding(ids.clamp(max=self.w["language_model.model.embed_tokens.weight"].shape[0] - 1), self.w["language_model.model.embed_tokens.weight"])
        x[ids == self.image_token] = feats.reshape(-1, feats.shape[-1])
        B, T = ids.shape
        Hkv = self.t["num_key_value_heads"]
        cache = [(torch.empty(B, Hkv, T + new_tokens, self.hd, dtype=self.dtype), torch.empty(B, Hkv, T + new_tokens, self.hd, dtype=self.dtype)) for _ in range(self.t["num_hidden_layers"])]
        tok = self.logits(self.decoder(x, 0, cache)).argmax(-1)
        t1 = time.perf_counter()
        out = [tok]
        for step in range(1, new_tokens):
            x = F.embedding(tok[:, None], self.w["language_model.model.embed_tokens.weight"])
            tok = self.logits(self.decoder(x, T + step - 1, cache)).argmax(-1)
            out.append(tok)
        t2 = time.perf_counter()
        return torch.stack(out, dim=1).tolist(), t1 - t0, t2 - t1


def main():
    model_dir, inputs_file, pixels_file, threads, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    warmup = len(sys.argv) < 7 or sys.argv[6] != "0"
    torch.set_num_threads(threads)
    cfg = json.load(open(f"{model_dir}/config.json"))
    model = Llava(cfg, load_safetensors(f"{model_dir}/model.safetensors"))
    inputs = json.load(open(inputs_file))
    ids = torch.tensor(inputs["ids"], dtype=torch.int64)
    S = cfg["vision_config"]["image_size"]
    pixels = torch.from_numpy(np.fromfile(pixels_file, dtype=np.float32).reshape(-1, 3, S, S).copy())
    prefill, decode, tokens = [], [], None
    with torch.inference_mode():
        if warmup:
            model.generate(ids, pixels, 2)  # warm-up (allocator, thread pool)
        for _ in range(repeats):
            tokens, p, d = model.generate(ids, pixels, inputs["new_tokens"])
            prefill.append(p * 1e3)
            decode.append(d * 1e3)
    # VmHWM, not ru_maxrss (which folds in the parent's RSS at fork), as bench/peak_rss.ts.
    max_rss = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    json.dump({"prefill_ms": prefill, "decode_ms": decode, "tokens": tokens, "torch": torch.__version__, "threads": torch.get_num_threads(), "max_rss_bytes": max_rss}, sys.stdout)


if __name__ == "__main__":
    main()
