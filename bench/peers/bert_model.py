#!/usr/bin/python3
"""Random-weight BERT sentence-embedding models of real geometries, their ONNX export and the
benchmark's token ids, for bench/run_engine_bench.sh (our engine and the ONNX Runtime peer
ort_peer.js run the same files).

  bert_model.py make --geometry minilm|base --out DIR
      DIR in Hugging Face + sentence-transformers layout: config.json, model.safetensors (F32,
      numpy default_rng(1) normal * 0.02, LayerNorm weights 1), mean pooling + Normalize (as
      all-MiniLM-L6-v2), a placeholder WordPiece tokenizer.json (nothing is tokenized: the
      benchmark gives token ids), DIR/onnx/model.onnx (torch.onnx.export of the forward below,
      opset 14, dynamic batch and sequence; inputs input_ids, attention_mask, token_type_ids;
      output sentence_embedding), DIR/corpus_tokens.json: {"input_ids": [...]}, 1,000 sequences
      [CLS] + 6..126 random ids + [SEP] (lengths from a fixed geometric-like mix), default_rng(2).
Random weights do not change the speed of the arithmetic.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tools"))
from safetensors_writer import save_safetensors  # noqa: E402

GEOMETRY = {
    # sentence-transformers/all-MiniLM-L6-v2
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                   intermediate_size=1536),
    # bert-base-uncased
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072),
}


def config(geometry):
    c = dict(model_type="bert", architectures=["BertModel"], vocab_size=30522,
             max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
             layer_norm_eps=1e-12, pad_token_id=0, torch_dtype="float32")
    c.update(GEOMETRY[geometry])
    return c


def tensors(c, rng):
    H, FF, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    r = lambda *s: rng.standard_normal(s, dtype=np.float32) * 0.02  # noqa: E731
    one, zero = lambda n: np.ones(n, np.float32), lambda n: np.zeros(n, np.float32)  # noqa: E731
    t = {"embeddings.word_embeddings.weight": r(V, H),
         "embeddings.position_embeddings.weight": r(c["max_position_embeddings"], H),
         "embeddings.token_type_embeddings.weight": r(2, H),
         "embeddings.LayerNorm.weight": one(H), "embeddings.LayerNorm.bias": zero(H)}
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            t[p + f"attention.self.{n}.weight"] = r(H, H)
            t[p + f"attention.self.{n}.bias"] = r(H)
        t[p + "attention.output.dense.weight"] = r(H, H)
        t[p + "attention.output.dense.bias"] = r(H)
        t[p + "attention.output.LayerNorm.weight"] = one(H)
        t[p + "attention.output.LayerNorm.bias"] = zero(H)
        t[p + "intermediate.dense.weight"] = r(FF, H)
        t[p + "intermediate.dense.bias"] = r(FF)
        t[p + "output.dense.weight"] = r(H, FF)
        t[p + "output.dense.bias"] = r(H)
        t[p + "output.LayerNorm.weight"] = one(H)
        t[p + "output.LayerNorm.bias"] = zero(H)
    return t


class Bert(torch.nn.Module):
    """BERT encoder + mean pooling + L2 normalize, written from transformers' modeling_bert.py
    (post-norm blocks, erf GELU), for the ONNX export."""

    def __init__(self, c, t):
        super().__init__()
        self.c = c
        self.w = {k: torch.from_numpy(v) for k, v in t.items()}
        for k, v in self.w.items():
            self.register_buffer(k.replace(".", "_"), v)

    def p(self, name):
        return getattr(self, name.replace(".", "_"))

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(x, (self.c["hidden_size"],), self.p(name + ".weight"),
                                              self.p(name + ".bias"), self.c["layer_norm_eps"])

    def lin(self, x, name):
        return torch.nn.functional.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def forward(self, input_ids, attention_mask, token_type_ids):
        c = self.c
        B, L = input_ids.shape
        NH = c["num_attention_heads"]
        dh = c["hidden_size"] // NH
        pos = torch.arange(L, dtype=torch.int64).unsqueeze(0)
        x = (self.p("embeddings.word_embeddings.weight")[input_ids] +
             self.p("embeddings.position_embeddings.weight")[pos] +
             self.p("embeddings.token_type_embeddings.weight")[token_type_ids])
        x = self.ln(x, "embeddings.LayerNorm")
        bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -1e9
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            heads = lambda y: y.view(B, L, NH, dh).transpose(1, 2)  # noqa: E731
            q = heads(self.lin(x, p + "attention.self.query"))
            k = heads(self.lin(x, p + "attention.self.key"))
            v = heads(self.lin(x, p + "attention.self.value"))
            s = torch.matmul(q, k.transpose(-1, -2)) / (dh ** 0.5) + bias
            ctx = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, L, -1)
            x = self.ln(x + self.lin(ctx, p + "attention.output.dense"),
                        p + "attention.output.LayerNorm")
            h = torch.nn.functional.gelu(self.lin(x, p + "intermediate.dense"))
            x = self.ln(x + self.lin(h, p + "output.dense"), p + "output.LayerNorm")
        m = attention_mask.unsqueeze(-1).to(torch.float32)
        e = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(e, dim=-1)


def corpus(rng, n=1000):
    lengths = np.clip(np.round(rng.gamma(2.0, 20.0, size=n)), 6, 126).astype(int)
    return [[101] + [int(x) for x in rng.integers(1000, 30522, size=k)] + [102] for k in lengths]


def make(args):
    c = config(args.geometry)
    out = args.out
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    json.dump(c, open(os.path.join(out, "config.json"), "w"), indent=2)
    t = tensors(c, np.random.default_rng(1))
    save_safetensors(os.path.join(out, "model.safetensors"), t, "F32")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    json.dump(modules, open(os.path.join(out, "modules.json"), "w"))
    json.dump({"word_embedding_dimension": c["hidden_size"], "pooling_mode_mean_tokens": True,
               "pooling_mode_cls_token": False, "include_prompt": True},
              open(os.path.join(out, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": 512, "do_lower_case": True},
              open(os.path.join(out, "sentence_bert_config.json"), "w"))
    shutil.copy(os.path.join(HERE, "..", "..", "tests", "data", "bert-tiny", "tokenizer.json"), out)
    json.dump({"input_ids": corpus(np.random.default_rng(2))},
              open(os.path.join(out, "corpus_tokens.json"), "w"))
    model = Bert(c, t).eval()
    ids = torch.randint(1000, 30000, (2, 16), dtype=torch.int64)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask, torch.zeros_like(ids)),
                          os.path.join(out, "onnx", "model.onnx"),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["sentence_embedding"], opset_version=14,
                          dynamic_axes={"input_ids": {0: "b", 1: "s"},
                                        "attention_mask": {0: "b", 1: "s"},
                                        "token_type_ids": {0: "b", 1: "s"},
                                        "sentence_embedding": {0: "b"}})
    print(f"{out}: {args.geometry}, {sum(v.size for v in t.values()) / 1e6:.1f}M parameters")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--geometry", choices=sorted(GEOMETRY), required=True)
    m.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    make(args)


if __name__ == "__main__":
    main()
