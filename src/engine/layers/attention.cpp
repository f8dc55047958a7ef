#include "engine/layers/attention.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "engine/attention_bf16.h"
#include "engine/kernels.h"

namespace ej::engine {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string bias_name(const std::string& weight) {
  const std::string suffix = ".weight";
  if (weight.size() > suffix.size() &&
      weight.compare(weight.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return weight.substr(0, weight.size() - suffix.size()) + ".bias";
  }
  return weight + ".bias";
}

}  // namespace

int64_t load_linear(WeightReader& r, const dnnl::engine& eng, const LinearSpec& spec,
                    const std::string& prefix, int64_t in, Linear::Epilogue ep, Activation act,
                    ComputeDType dtype, Linear* lin, AlignedBuffer* keep_bias) {
  std::vector<std::string> wn, bn;
  std::vector<std::vector<int64_t>> ws, bs;
  int64_t out = 0;
  for (size_t i = 0; i < spec.weights.size(); ++i) {
    const std::string name = prefix + spec.weights[i];
    int64_t rows = i < spec.rows.size() ? spec.rows[i] : 0;
    if (rows <= 0) {  // width taken from the checkpoint (e.g. NomicBert's rounded-up MLP)
      const TensorInfo* t = r.find(name);
      rows = (t != nullptr && t->shape.size() == 2) ? t->shape[0] : 0;
    }
    wn.push_back(name);
    ws.push_back({rows, in});
    bn.push_back(bias_name(name));
    bs.push_back({rows});
    out += rows;
  }
  AlignedBuffer w, b;
  const bool ok_w = r.read_concat(wn, ws, &w);
  const bool ok_b = !spec.bias || r.read_concat(bn, bs, &b);
  if (!ok_w || !ok_b || r.failing()) return out;
  const float* bias = spec.bias ? b.data() : nullptr;
  if (keep_bias != nullptr) {
    keep_bias->reserve(static_cast<size_t>(out));
    if (bias != nullptr) {
      std::memcpy(keep_bias->data(), bias, static_cast<size_t>(out) * sizeof(float));
    } else {
      std::memset(keep_bias->data(), 0, static_cast<size_t>(out) * sizeof(float));
    }
    bias = nullptr;
  }
  lin->init(eng, w.data(), bias, in, out, ep, act, dtype);
  return out;
}

void Attention::load(WeightReader& r, const dnnl::engine& eng, const AttentionSpec& spec,
                     const std::string& prefix, int64_t hidden, Linear::Epilogue o_epilogue,
                     ComputeDType dtype) {
  spec_ = spec;
  load_linear(r, eng, spec.qkv, prefix, hidden, Linear::Epilogue::kNone, Activation::kIdentity,
              dtype, &qkv_);
  load_linear(r, eng, spec.o, prefix, q_width(), o_epilogue, Activation::kIdentity, dtype, &o_);
  q_norm_.load(r, spec.q_norm, prefix, spec.head_dim);
  k_norm_.load(r, spec.k_norm, prefix, spec.head_dim);
  bf16_products_ = dtype != ComputeDType::kF32 &&
                   kernels::attention_bf16_supported(static_cast<size_t>(spec.head_dim));
}

size_t Attention::scratch_floats(size_t len) const {
  return kernels::attention_scratch_floats(len, static_cast<size_t>(spec_.head_dim)) + len;
}

void Attention::forward(const float* in, float* out, const BatchContext& bc, const Rope* rope,
                        const float* rel, EncoderWorkspace* ws, ForwardStats* st) const {
  using clock = std::chrono::steady_clock;
  const PackedBatch& batch = *bc.batch;
  const int64_t T = bc.tokens;
  const int64_t NH = spec_.num_heads, NKV = spec_.num_kv_heads, dh = spec_.head_dim;
  const int64_t W = qkv_width();
  const int64_t QW = q_width();
  float* qkv = ws->big.data();
  float* ctx = ws->ctx.data();

  auto t1 = clock::now();
  qkv_.run(in, T, qkv, &ws->gemm_scratch);  // + bias
  st->gemm_s += seconds_since(t1);

  t1 = clock::now();
  if (q_norm_.present()) {
    q_norm_.apply_heads(qkv, static_cast<size_t>(T), static_cast<size_t>(W),
                        static_cast<size_t>(NH), bc.threads);
  }
  if (k_norm_.present()) {
    k_norm_.apply_heads(qkv + QW, static_cast<size_t>(T), static_cast<size_t>(W),
                        static_cast<size_t>(NKV), bc.threads);
  }
  if (rope != nullptr) {
    rope->apply(qkv, static_cast<size_t>(T), static_cast<size_t>(W), static_cast<size_t>(NH + NKV),
                static_cast<size_t>(dh), ws->rope_pos.data(), bc.threads);
  }
  st->other_s += seconds_since(t1);

  // One task per (sequence, head).
  t1 = clock::now();
  const bool masked = spec_.causal || spec_.window >= 0 || rel != nullptr;
  const int64_t group = NH / NKV;
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t tasks = n * NH;
  const int64_t rel_len = 2 * bc.max_len - 1;
#pragma omp parallel for num_threads(bc.threads) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const size_t i = static_cast<size_t>(task / NH);
    const int64_t head = task % NH;
    const int64_t kvh = head / group;
    const int64_t off = batch.offsets[i] - bc.base;
    const int64_t len = batch.offsets[i + 1] - batch.offsets[i];
    float* sc = ws->scores[static_cast<size_t>(omp_get_thread_num())].data();
    const float* q = qkv + off * W + head * dh;
    const float* k = qkv + off * W + QW + kvh * dh;
    const float* v = qkv + off * W + QW + NKV * dh + kvh * dh;
    float* o = ctx + off * QW + head * dh;
    if (!masked && bf16_products_) {
      kernels::attention_head_bf16(q, k, v, static_cast<size_t>(W), static_cast<size_t>(len),
                                   static_cast<size_t>(dh), spec_.scale, o, static_cast<size_t>(QW),
                                   sc);
    } else if (!masked) {
      kernels::attention_head(q, k, v, static_cast<size_t>(W), static_cast<size_t>(len),
                              static_cast<size_t>(dh), spec_.scale, o, static_cast<size_t>(QW), sc);
    } else {
      kernels::AttentionMask mask;
      mask.causal = spec_.causal;
      mask.window = spec_.window;
      mask.rel = rel != nullptr ? rel + head * rel_len + (bc.max_len - 1) : nullptr;
      kernels::attention_head_masked(q, k, v, static_cast<size_t>(W), static_cast<size_t>(len),
                                     static_cast<size_t>(dh), spec_.scale, mask, o,
                                     static_cast<size_t>(QW), sc);
    }
  }
  st->attention_s += seconds_since(t1);

  t1 = clock::now();
  o_.run(ctx, T, out, &ws->gemm_scratch);
  st->gemm_s += seconds_since(t1);
}

}  // namespace ej::engine
