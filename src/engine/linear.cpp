#include "engine/linear.h"

#include <cstring>

#include "common/error.h"

namespace ej::engine {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

bool eltwise_for(Activation act, dnnl::algorithm* alg, float* alpha) {
  *alpha = 0.0f;
  switch (act) {
    case Activation::kGeluErf:
      *alg = dnnl::algorithm::eltwise_gelu_erf;
      return true;
    case Activation::kGeluTanh:
      *alg = dnnl::algorithm::eltwise_gelu_tanh;
      return true;
    case Activation::kRelu:
      *alg = dnnl::algorithm::eltwise_relu;
      return true;
    case Activation::kSilu:
      *alg = dnnl::algorithm::eltwise_swish;
      *alpha = 1.0f;
      return true;
    case Activation::kQuickGelu:
      *alg = dnnl::algorithm::eltwise_swish;
      *alpha = 1.702f;
      return true;
    case Activation::kTanh:
      *alg = dnnl::algorithm::eltwise_tanh;
      return true;
    case Activation::kSigmoid:
      *alg = dnnl::algorithm::eltwise_logistic;
      return true;
    case Activation::kIdentity:
      return false;
  }
  return false;
}

// Primitive descriptor for a given M (weights desc "any" lets oneDNN choose the packed layout).
dnnl::matmul::primitive_desc make_pd(const dnnl::engine& eng, int64_t rows, int64_t in, int64_t out,
                                     bool bias, Linear::Epilogue ep, Activation act,
                                     const memory::desc& wdesc) {
  memory::desc src({rows, in}, dt::f32, tag::ab);
  memory::desc dst({rows, out}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  if (ep == Linear::Epilogue::kAccumulate) po.append_sum(1.0f);
  dnnl::algorithm alg;
  float alpha;
  if (ep == Linear::Epilogue::kActivation && eltwise_for(act, &alg, &alpha)) {
    po.append_eltwise(1.0f, alg, alpha, 0.0f);
  }
  attr.set_post_ops(po);
  if (bias) {
    memory::desc bd({1, out}, dt::f32, tag::ab);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wdesc, bd, dst), attr, eng);
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wdesc, dst), attr, eng);
}

}  // namespace

bool Linear::fusable(Activation act) {
  dnnl::algorithm alg;
  float alpha;
  return act == Activation::kIdentity || eltwise_for(act, &alg, &alpha);
}

void Linear::init(const dnnl::engine& eng, const float* w, const float* b, int64_t in, int64_t out,
                  Epilogue epilogue, Activation act) {
  eng_ = eng;
  in_ = in;
  out_ = out;
  epilogue_ = epilogue;
  act_ = act;
  has_bias_ = b != nullptr;
  if (epilogue == Epilogue::kActivation && !fusable(act)) {
    throw Error(ErrorCode::kInternal, "activation cannot be fused into the GEMM");
  }
  // Let oneDNN pick the weight layout for a typical M, then reorder W once into it.
  memory::desc any({in, out}, dt::f32, tag::any);
  auto pd = make_pd(eng, 512, in, out, has_bias_, epilogue, act, any);
  weights_desc_ = pd.weights_desc();
  // W is [out, in] row-major == a [in, out] matrix in "ba" order.
  memory src({{in, out}, dt::f32, tag::ba}, eng, const_cast<float*>(w));
  weights_ = memory(weights_desc_, eng);
  dnnl::stream s(eng);
  dnnl::reorder(src, weights_).execute(s, src, weights_);
  s.wait();
  if (has_bias_) {
    bias_data_.reserve(static_cast<size_t>(out));
    std::memcpy(bias_data_.data(), b, static_cast<size_t>(out) * sizeof(float));
    bias_ = memory({{1, out}, dt::f32, tag::ab}, eng, bias_data_.data());
  }
}

std::shared_ptr<const Linear::Prim> Linear::prim(int64_t rows) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(rows);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= 1024) cache_.clear();  // bounded: M <= the batch token budget anyway
  auto pd = make_pd(eng_, rows, in_, out_, has_bias_, epilogue_, act_, weights_desc_);
  if (pd.weights_desc() != weights_desc_) {
    throw Error(ErrorCode::kInternal,
                "oneDNN chose another weight layout for M=" + std::to_string(rows));
  }
  auto p = std::make_shared<const Prim>(Prim{dnnl::matmul(pd), pd.scratchpad_desc().get_size()});
  cache_.emplace(rows, p);
  return p;
}

void Linear::run(const float* x, int64_t rows, float* y, AlignedBuffer* scratch) const {
  std::shared_ptr<const Prim> pp = prim(rows);
  const Prim& p = *pp;
  dnnl::stream s(eng_);
  memory src({{rows, in_}, dt::f32, tag::ab}, eng_, const_cast<float*>(x));
  memory dst({{rows, out_}, dt::f32, tag::ab}, eng_, y);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  if (p.scratch_bytes > 0) {
    scratch->reserve(p.scratch_bytes / sizeof(float) + 1);
    args.emplace(
        DNNL_ARG_SCRATCHPAD,
        memory({{static_cast<int64_t>(p.scratch_bytes)}, dt::u8, tag::a}, eng_, scratch->data()));
  }
  p.mm.execute(s, args);
  s.wait();
}

}  // namespace ej::engine
