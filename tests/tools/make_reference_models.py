#!/usr/bin/env python3
"""Tiny random qwen2 and roberta sentence-embedding models with reference outputs.

Writes tests/data/qwen2-tiny/ and tests/data/roberta-tiny/ in the Hugging Face +
sentence-transformers folder layout (config.json, model.safetensors, modules.json,
1_Pooling/config.json, sentence_bert_config.json, config_sentence_transformers.json) plus
expected.json / last_hidden_state.f32 in the embedding-fixture/v1 format of ../shared/fixtures
(no tokenizer: the cases are token ids).

The reference forward passes are written here, independently of the engine, from the semantics
of transformers' modeling_qwen2.py (Qwen2Model: RMSNorm, q/k/v biases, no o bias, RoPE
half-split, GQA repeat_kv, causal mask, SwiGLU, final norm) and modeling_roberta.py
(RobertaModel: positions cumsum(ids != pad) * (ids != pad) + pad, token type 0, post-norm
LayerNorm, erf GELU) and sentence-transformers' Pooling (lasttoken / mean) + Normalize, in
float64 with torch. Every case is run alone; the engine must match within 1e-4.

Usage: /usr/bin/python3 tests/tools/make_reference_models.py [--out tests/data]
Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import json
import math
import os

import numpy as np
import torch

from safetensors_writer import save_safetensors

F64 = torch.float64


def write_st_files(d, pooling, max_seq_length, hidden, prompts):
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    json.dump(modules, open(os.path.join(d, "modules.json"), "w"), indent=2)
    pc = {"word_embedding_dimension": hidden, "pooling_mode_cls_token": False,
          "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
          "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
          "pooling_mode_lasttoken": pooling == "lasttoken", "include_prompt": True}
    json.dump(pc, open(os.path.join(d, "1_Pooling", "config.json"), "w"), indent=2)
    json.dump({"max_seq_length": max_seq_length, "do_lower_case": False},
              open(os.path.join(d, "sentence_bert_config.json"), "w"), indent=2)
    json.dump({"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"},
              open(os.path.join(d, "config_sentence_transformers.json"), "w"), indent=2)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def qwen2_forward(W, cfg, ids):
    H, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = H // NH
    L = len(ids)
    x = W["embed_tokens.weight"][torch.tensor(ids)]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dh, 2, dtype=F64) / dh))
    ang = torch.arange(L, dtype=F64)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((L, L), float("-inf"), dtype=F64).triu(1)
    eps = cfg["rms_norm_eps"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = h @ W[p + "self_attn.q_proj.weight"].T + W[p + "self_attn.q_proj.bias"]
        k = h @ W[p + "self_attn.k_proj.weight"].T + W[p + "self_attn.k_proj.bias"]
        v = h @ W[p + "self_attn.v_proj.weight"].T + W[p + "self_attn.v_proj.bias"]
        q = q.view(L, NH, dh).transpose(0, 1)
        k = k.view(L, NKV, dh).transpose(0, 1)
        v = v.view(L, NKV, dh).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = NH // NKV
        k = k.repeat_interleave(rep, dim=0)  # repeat_kv: head j uses kv head j // rep
        v = v.repeat_interleave(rep, dim=0)
        s = q @ k.transpose(1, 2) / math.sqrt(dh) + mask
        a = torch.softmax(s, dim=-1) @ v
        a = a.transpose(0, 1).reshape(L, NH * dh)
        x = x + a @ W[p + "self_attn.o_proj.weight"].T
        h2 = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h2 @ W[p + "mlp.gate_proj.weight"].T
        u = h2 @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    return rms_norm(x, W["norm.weight"], eps)


def roberta_forward(W, cfg, ids):
    H, NH = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = H // NH
    L = len(ids)
    pad = cfg["pad_token_id"]
    t = torch.tensor(ids)
    m = (t != pad).long()
    pos = torch.cumsum(m, 0) * m + pad
    eps = cfg["layer_norm_eps"]
    e = "embeddings."
    x = W[e + "word_embeddings.weight"][t] + W[e + "token_type_embeddings.weight"][0]
    x = x + W[e + "position_embeddings.weight"][pos]
    x = layer_norm(x, W[e + "LayerNorm.weight"], W[e + "LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."

        def lin(n, z):
            return z @ W[n + ".weight"].T + W[n + ".bias"]

        q = lin(a + "query", x).view(L, NH, dh).transpose(0, 1)
        k = lin(a + "key", x).view(L, NH, dh).transpose(0, 1)
        v = lin(a + "value", x).view(L, NH, dh).transpose(0, 1)
        s = q @ k.transpose(1, 2) / math.sqrt(dh)
        c = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(L, H)
        x = layer_norm(lin(p + "attention.output.dense", c) + x,
                       W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        f = torch.nn.functional.gelu(lin(p + "intermediate.dense", x))  # erf form
        x = layer_norm(lin(p + "output.dense", f) + x, W[p + "output.LayerNorm.weight"],
                       W[p + "output.LayerNorm.bias"], eps)
    return x


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=F64) * scale


def rounded(W):
    # The engine reads f32 weights: the reference computes with exactly those values.
    return {k: v.to(torch.float32).to(F64) for k, v in W.items()}


def make_qwen2(out):
    g = torch.Generator().manual_seed(20261201)
    H, NH, NKV, FF, V, LAY = 64, 4, 2, 128, 512, 2
    dh = H // NH
    cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": H,
           "intermediate_size": FF, "num_hidden_layers": LAY, "num_attention_heads": NH,
           "num_key_value_heads": NKV, "hidden_act": "silu", "max_position_embeddings": 32768,
           "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": None,
           "use_sliding_window": False, "sliding_window": None, "max_window_layers": LAY,
           "tie_word_embeddings": False, "vocab_size": V, "bos_token_id": 500, "eos_token_id": 501,
           "torch_dtype": "float32"}
    W = {"embed_tokens.weight": randn(g, V, H), "norm.weight": 1 + randn(g, H, scale=0.2)}
    for i in range(LAY):
        p = f"layers.{i}."
        W[p + "input_layernorm.weight"] = 1 + randn(g, H, scale=0.2)
        W[p + "post_attention_layernorm.weight"] = 1 + randn(g, H, scale=0.2)
        W[p + "self_attn.q_proj.weight"] = randn(g, NH * dh, H, scale=0.25)
        W[p + "self_attn.q_proj.bias"] = randn(g, NH * dh, scale=0.5)
        W[p + "self_attn.k_proj.weight"] = randn(g, NKV * dh, H, scale=0.25)
        W[p + "self_attn.k_proj.bias"] = randn(g, NKV * dh, scale=0.5)
        W[p + "self_attn.v_proj.weight"] = randn(g, NKV * dh, H, scale=0.25)
        W[p + "self_attn.v_proj.bias"] = randn(g, NKV * dh, scale=0.5)
        W[p + "self_attn.o_proj.weight"] = randn(g, H, NH * dh, scale=0.15)
        W[p + "mlp.gate_proj.weight"] = randn(g, FF, H, scale=0.2)
        W[p + "mlp.up_proj.weight"] = randn(g, FF, H, scale=0.2)
        W[p + "mlp.down_proj.weight"] = randn(g, H, FF, scale=0.1)
    W = rounded(W)
    rng = np.random.default_rng(7)
    lengths = [1, 2, 3, 5, 8, 13, 16, 17, 31, 33, 64, 100, 127, 128]
    cases = []
    for n in lengths:
        ids = [int(v) for v in rng.integers(0, 500, size=n - 1)] + [501]  # ends with eos
        cases.append(ids)
    return "qwen2-tiny", cfg, W, cases, qwen2_forward, "lasttoken", 128


def make_roberta(out):
    g = torch.Generator().manual_seed(20261202)
    H, NH, FF, V, LAY, PAD = 64, 4, 128, 512, 2, 1
    cfg = {"architectures": ["RobertaModel"], "model_type": "roberta", "hidden_size": H,
           "intermediate_size": FF, "num_hidden_layers": LAY, "num_attention_heads": NH,
           "hidden_act": "gelu", "max_position_embeddings": 130, "type_vocab_size": 1,
           "layer_norm_eps": 1e-5, "pad_token_id": PAD, "bos_token_id": 0, "eos_token_id": 2,
           "position_embedding_type": "absolute", "vocab_size": V, "torch_dtype": "float32"}
    e = "embeddings."
    W = {e + "word_embeddings.weight": randn(g, V, H),
         e + "position_embeddings.weight": randn(g, 130, H),
         e + "token_type_embeddings.weight": randn(g, 1, H, scale=0.5),
         e + "LayerNorm.weight": 1 + randn(g, H, scale=0.2),
         e + "LayerNorm.bias": randn(g, H, scale=0.2)}
    W[e + "word_embeddings.weight"][PAD] = 0  # padding_idx rows are zero in checkpoints
    W[e + "position_embeddings.weight"][PAD] = 0
    for i in range(LAY):
        p = f"encoder.layer.{i}."
        for n, (o, inp) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                            "attention.self.value": (H, H), "attention.output.dense": (H, H),
                            "intermediate.dense": (FF, H), "output.dense": (H, FF)}.items():
            W[p + n + ".weight"] = randn(g, o, inp, scale=0.3)
            W[p + n + ".bias"] = randn(g, o, scale=0.3)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            W[p + n + ".weight"] = 1 + randn(g, H, scale=0.2)
            W[p + n + ".bias"] = randn(g, H, scale=0.2)
    W = rounded(W)
    rng = np.random.default_rng(8)
    lengths = [2, 3, 5, 8, 13, 16, 17, 31, 33, 64, 100, 127, 128]
    cases = []
    for n in lengths:
        ids = [0] + [int(v) for v in rng.integers(3, V, size=n - 2)] + [2]
        cases.append(ids)
    cases.append([0, 40, 1, 41, 1, 42, 2])  # literal <pad>s: position 1, do not advance
    return "roberta-tiny", cfg, W, cases, roberta_forward, "mean", 128


def write(out, name, cfg, W, cases, fwd, pooling, max_seq):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"),
                     {n: t.detach().to(torch.float32).numpy() for n, t in W.items()})
    H = cfg["hidden_size"]
    write_st_files(d, pooling, max_seq, H, {"query": "query: "})
    rows, out_cases, off = [], [], 0
    for i, ids in enumerate(cases):
        with torch.no_grad():
            h = fwd(W, cfg, ids)
        pooled = h[-1] if pooling == "lasttoken" else h.mean(0)
        emb = pooled / torch.clamp(pooled.norm(), min=1e-12)
        rows.append(h.to(torch.float32).numpy())
        out_cases.append({"index": i, "name": f"random-{len(ids)}", "input_ids": ids,
                          "num_tokens": len(ids), "hidden_offset": off,
                          "embedding": [float(np.float32(v)) for v in emb.tolist()]})
        off += len(ids)
    np.concatenate(rows).astype("<f4").tofile(os.path.join(d, "last_hidden_state.f32"))
    exp = {"format": "embedding-fixture/v1", "fixture": name,
           "model": {"model_type": cfg["model_type"], "hidden_size": H, "pooling": pooling,
                     "normalize": True, "max_seq_length": max_seq},
           "reference": {"how": "tests/tools/make_reference_models.py, float64 torch"},
           "tolerance": {"embedding_max_abs": 1e-4, "hidden_state_max_abs": 1e-4},
           "hidden_states": {"file": "last_hidden_state.f32", "total_rows": off},
           "num_cases": len(out_cases), "cases": out_cases}
    json.dump(exp, open(os.path.join(d, "expected.json"), "w"))
    print(f"{d}: {len(out_cases)} cases, {off} rows")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for make in (make_qwen2, make_roberta):
        write(args.out, *make(args.out))


if __name__ == "__main__":
    main()
