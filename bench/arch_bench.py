#!/usr/bin/python3
"""Qwen3-Embedding-0.6B and ModernBERT-base geometry: random-weight models and the PyTorch
eager peer, for bench/run_arch_bench.sh.

  arch_bench.py make  --arch qwen3-0.6b|modernbert-base --out DIR [--batch 16 --seq 128]
      writes DIR in Hugging Face + sentence-transformers layout (Qwen3: BF16 safetensors as the
      real checkpoint ships; ModernBERT: F32), a placeholder WordPiece tokenizer.json (the
      benchmark gives token ids; nothing is tokenized) and DIR/bench_ids.json (token ids).
  arch_bench.py torch --model DIR [--threads 2 --reps 3 --warmup 1] [--json out.json]
      runs the same ids through an eager PyTorch forward written from transformers'
      modeling_qwen3.py / modeling_modernbert.py (float32, padded batch + attention mask,
      torch.inference_mode, torch.set_num_threads(threads)), pooling + normalize as modules.json
      says; prints tokens/s and peak RSS.
Random weights do not change the speed of the arithmetic.
"""
import argparse
import json
import math
import os
import resource
import shutil
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
from safetensors_writer import save_safetensors  # noqa: E402

GEOMETRY = {
    "qwen3-0.6b": dict(model_type="qwen3", hidden_size=1024, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                       intermediate_size=3072, vocab_size=151669, rope_theta=1000000.0,
                       rms_norm_eps=1e-6, max_position_embeddings=32768, hidden_act="silu",
                       attention_bias=False, tie_word_embeddings=True, rope_scaling=None,
                       architectures=["Qwen3ForCausalLM"], torch_dtype="bfloat16"),
    "modernbert-base": dict(model_type="modernbert", hidden_size=768, num_hidden_layers=22,
                            num_attention_heads=12, intermediate_size=1152, vocab_size=50368,
                            global_attn_every_n_layers=3, local_attention=128,
                            global_rope_theta=160000.0, local_rope_theta=10000.0, norm_eps=1e-5,
                            norm_bias=False, attention_bias=False, mlp_bias=False,
                            hidden_activation="gelu", max_position_embeddings=8192,
                            pad_token_id=50283, architectures=["ModernBertModel"],
                            torch_dtype="float32"),
}


def qwen3_tensors(c, rng):
    H, dh, NH, NKV, FF = c["hidden_size"], c["head_dim"], c["num_attention_heads"], \
        c["num_key_value_heads"], c["intermediate_size"]
    r = lambda *s, sc=0.02: (rng.standard_normal(s, dtype=np.float32) * sc)
    t = {"embed_tokens.weight": r(c["vocab_size"], H), "norm.weight": 1 + r(H, sc=0.1)}
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        t[p + "input_layernorm.weight"] = 1 + r(H, sc=0.1)
        t[p + "post_attention_layernorm.weight"] = 1 + r(H, sc=0.1)
        t[p + "self_attn.q_proj.weight"] = r(NH * dh, H)
        t[p + "self_attn.k_proj.weight"] = r(NKV * dh, H)
        t[p + "self_attn.v_proj.weight"] = r(NKV * dh, H)
        t[p + "self_attn.o_proj.weight"] = r(H, NH * dh)
        t[p + "self_attn.q_norm.weight"] = 1 + r(dh, sc=0.1)
        t[p + "self_attn.k_norm.weight"] = 1 + r(dh, sc=0.1)
        t[p + "mlp.gate_proj.weight"] = r(FF, H)
        t[p + "mlp.up_proj.weight"] = r(FF, H)
        t[p + "mlp.down_proj.weight"] = r(H, FF)
    return t


def modernbert_tensors(c, rng):
    H, FF = c["hidden_size"], c["intermediate_size"]
    r = lambda *s, sc=0.02: (rng.standard_normal(s, dtype=np.float32) * sc)
    t = {"embeddings.tok_embeddings.weight": r(c["vocab_size"], H),
         "embeddings.norm.weight": 1 + r(H, sc=0.1), "final_norm.weight": 1 + r(H, sc=0.1)}
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        if i > 0:
            t[p + "attn_norm.weight"] = 1 + r(H, sc=0.1)
        t[p + "attn.Wqkv.weight"] = r(3 * H, H)
        t[p + "attn.Wo.weight"] = r(H, H)
        t[p + "mlp_norm.weight"] = 1 + r(H, sc=0.1)
        t[p + "mlp.Wi.weight"] = r(2 * FF, H)
        t[p + "mlp.Wo.weight"] = r(H, FF)
    return t


def make(args):
    c = GEOMETRY[args.arch]
    os.makedirs(os.path.join(args.out, "1_Pooling"), exist_ok=True)
    json.dump(c, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    rng = np.random.default_rng(1)
    qwen = c["model_type"] == "qwen3"
    t = qwen3_tensors(c, rng) if qwen else modernbert_tensors(c, rng)
    save_safetensors(os.path.join(args.out, "model.safetensors"), t, "BF16" if qwen else "F32")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    json.dump(modules, open(os.path.join(args.out, "modules.json"), "w"))
    json.dump({"word_embedding_dimension": c["hidden_size"], "pooling_mode_lasttoken": qwen,
               "pooling_mode_cls_token": not qwen, "pooling_mode_mean_tokens": False,
               "include_prompt": True}, open(os.path.join(args.out, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": 8192}, open(os.path.join(args.out, "sentence_bert_config.json"), "w"))
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copy(os.path.join(here, "..", "tests", "data", "bert-tiny", "tokenizer.json"), args.out)
    ids = [[int(x) for x in rng.integers(0, c["vocab_size"], size=args.seq)] for _ in range(args.batch)]
    json.dump({"input_ids": ids}, open(os.path.join(args.out, "bench_ids.json"), "w"))
    print(f"{args.out}: {args.arch}, {sum(v.size for v in t.values()) / 1e6:.0f}M parameters")


def load_f32(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in h.items():
        b, e = v["data_offsets"]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(data[b:e], dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(data[b:e], dtype=np.float32)
        out[k] = torch.from_numpy(a.copy().reshape(v["shape"]))
    return out


def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def ln(x, w, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, None, eps)


def rope_cs(L, dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    a = torch.arange(L, dtype=torch.float32)[:, None] * inv[None]
    e = torch.cat((a, a), -1)
    return e.cos(), e.sin()


def rot(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


def qwen3_forward(W, c, ids, mask):
    B, L = ids.shape
    H, NH, NKV, dh, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], \
        c["head_dim"], c["rms_norm_eps"]
    x = W["embed_tokens.weight"][ids]
    cos, sin = rope_cs(L, dh, c["rope_theta"])
    causal = torch.full((L, L), float("-inf")).triu(1)
    am = causal[None, None] + (1.0 - mask[:, None, None, :].float()) * -1e30
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, L, NH, dh)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, L, NKV, dh)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, L, NKV, dh).transpose(1, 2)
        q = rot(rms(q, W[p + "self_attn.q_norm.weight"], eps).transpose(1, 2), cos, sin)
        k = rot(rms(k, W[p + "self_attn.k_norm.weight"], eps).transpose(1, 2), cos, sin)
        k = k.repeat_interleave(NH // NKV, 1)
        v = v.repeat_interleave(NH // NKV, 1)
        s = q @ k.transpose(-1, -2) / math.sqrt(dh) + am
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, L, NH * dh)
        x = x + a @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
        x = x + (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["norm.weight"], eps)
    last = mask.sum(1) - 1
    return x[torch.arange(B), last]


def modernbert_forward(W, c, ids, mask):
    B, L = ids.shape
    H, NH, eps = c["hidden_size"], c["num_attention_heads"], c["norm_eps"]
    dh = H // NH
    x = ln(W["embeddings.tok_embeddings.weight"][ids], W["embeddings.norm.weight"], eps)
    cg, sg = rope_cs(L, dh, c["global_rope_theta"])
    cl, sl = rope_cs(L, dh, c["local_rope_theta"])
    pad = (1.0 - mask[:, None, None, :].float()) * -1e30
    pos = torch.arange(L)
    win = ((pos[:, None] - pos[None, :]).abs() > c["local_attention"] // 2).float() * -1e30
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        glob = i % c["global_attn_every_n_layers"] == 0
        h = x if i == 0 else ln(x, W[p + "attn_norm.weight"], eps)
        qkv = (h @ W[p + "attn.Wqkv.weight"].T).view(B, L, 3, NH, dh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        cos, sin = (cg, sg) if glob else (cl, sl)
        q, k = rot(q, cos, sin), rot(k, cos, sin)
        s = q @ k.transpose(-1, -2) / math.sqrt(dh) + pad + (0 if glob else win)
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, L, H)
        x = x + a @ W[p + "attn.Wo.weight"].T
        u = ln(x, W[p + "mlp_norm.weight"], eps) @ W[p + "mlp.Wi.weight"].T
        a, g = u.chunk(2, -1)
        x = x + (torch.nn.functional.gelu(a) * g) @ W[p + "mlp.Wo.weight"].T
    x = ln(x, W["final_norm.weight"], eps)
    return x[:, 0]


def run_torch(args):
    torch.set_num_threads(args.threads)
    c = json.load(open(os.path.join(args.model, "config.json")))
    W = load_f32(os.path.join(args.model, "model.safetensors"))
    ids_list = json.load(open(os.path.join(args.model, "bench_ids.json")))["input_ids"]
    L = max(len(s) for s in ids_list)
    ids = torch.zeros((len(ids_list), L), dtype=torch.long)
    mask = torch.zeros((len(ids_list), L), dtype=torch.long)
    for i, s in enumerate(ids_list):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    fwd = qwen3_forward if c["model_type"] == "qwen3" else modernbert_forward
    tokens = int(mask.sum())

    def once():
        with torch.inference_mode():
            e = fwd(W, c, ids, mask)
            return torch.nn.functional.normalize(e, dim=-1)

    for _ in range(args.warmup):
        once()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    med = sorted(times)[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {c['model_type']}: {len(ids_list)} seqs, {tokens} tokens: median {med * 1e3:.1f} ms "
          f"-> {tokens / med:.0f} tok/s; peak RSS {rss:.0f} MiB; threads {args.threads}; torch {torch.__version__}")
    if args.json:
        json.dump({"tok_per_s": tokens / med, "times_s": times, "peak_rss_mib": rss, "tokens": tokens},
                  open(args.json, "w"))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--arch", choices=sorted(GEOMETRY), required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--batch", type=int, default=16)
    m.add_argument("--seq", type=int, default=128)
    t = sub.add_parser("torch")
    t.add_argument("--model", required=True)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--json")
    args = ap.parse_args()
    make(args) if args.cmd == "make" else run_torch(args)


if __name__ == "__main__":
    sys.exit(main())
