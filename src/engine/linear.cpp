#include "engine/linear.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "engine/narrow.h"

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

dt weights_dt(ComputeDType d) {
  switch (d) {
    case ComputeDType::kBF16:
      return dt::bf16;
    case ComputeDType::kInt8:
      return dt::s8;
    case ComputeDType::kF32:
      break;
  }
  return dt::f32;
}

size_t round64(size_t bytes) {
  return (bytes + 63) / 64 * 64;
}

// Bytes of the narrowed input (bf16 / s8), of the int8 row scales and (our int8 kernel) of the
// row sums, for `rows` rows: [s8 x][f32 scales][s32 sums].
size_t narrowed_bytes(ComputeDType d, int64_t rows, int64_t in, bool row_sums) {
  const size_t n = static_cast<size_t>(rows * in);
  const size_t per_row = round64(static_cast<size_t>(rows) * 4);
  if (d == ComputeDType::kBF16) return round64(n * 2);
  if (d == ComputeDType::kInt8) return round64(n) + per_row + (row_sums ? per_row : 0);
  return 0;
}

// Where the pieces of the int8 narrowed input lie in the caller's buffer (see narrowed_bytes).
struct Int8Input {
  int8_t* q;
  float* scales;
  int32_t* sums;  // only with our kernel
};
Int8Input int8_input(const void* narrowed, int64_t rows, int64_t in) {
  auto* base = static_cast<uint8_t*>(const_cast<void*>(narrowed));
  const size_t scales_at = round64(static_cast<size_t>(rows * in));
  const size_t sums_at = scales_at + round64(static_cast<size_t>(rows) * 4);
  return {reinterpret_cast<int8_t*>(base), reinterpret_cast<float*>(base + scales_at),
          reinterpret_cast<int32_t*>(base + sums_at)};
}

// EJ_ENGINE_ONEDNN_GEMM=1 runs bf16 / int8 GEMMs on oneDNN even where our kernel applies (A/B).
bool onednn_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("EJ_ENGINE_ONEDNN_GEMM");
    return v != nullptr && v[0] == '1';
  }();
  return forced;
}

// Primitive descriptor for a given M (weights desc "any" lets oneDNN choose the packed layout).
// int8 runs as a batch-1 3-D matmul: oneDNN 2.6's brgemm kernels broadcast a per-row binary
// operand {1, M, 1} only there (a 2-D {M, 1} one falls back to the reference kernel). It has no
// matmul bias; the chain is output scales (per channel) -> x row scale -> + bias.
memory::dims mdims(ComputeDType d, int64_t rows, int64_t cols) {
  if (d == ComputeDType::kInt8) return {1, rows, cols};
  return {rows, cols};
}
tag plain(ComputeDType d) {
  return d == ComputeDType::kInt8 ? tag::abc : tag::ab;
}
// The [out, in] row-major W seen as the [in, out] weights matrix.
tag transposed(ComputeDType d) {
  return d == ComputeDType::kInt8 ? tag::acb : tag::ba;
}

dnnl::matmul::primitive_desc make_pd(const dnnl::engine& eng, int64_t rows, int64_t in, int64_t out,
                                     bool bias, Linear::Epilogue ep, Activation act,
                                     ComputeDType dtype, const std::vector<float>& w_scales,
                                     const memory::desc& wdesc) {
  memory::desc src(mdims(dtype, rows, in), weights_dt(dtype), plain(dtype));
  memory::desc dst(mdims(dtype, rows, out), dt::f32, plain(dtype));
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  const bool int8 = dtype == ComputeDType::kInt8;
  if (int8) {
    attr.set_output_scales(1 << 2, w_scales);
    po.append_binary(dnnl::algorithm::binary_mul, memory::desc({1, rows, 1}, dt::f32, tag::abc));
    if (bias) {
      po.append_binary(dnnl::algorithm::binary_add, memory::desc({1, 1, out}, dt::f32, tag::abc));
    }
  }
  if (ep == Linear::Epilogue::kAccumulate) po.append_sum(1.0f);
  dnnl::algorithm alg;
  float alpha;
  if (ep == Linear::Epilogue::kActivation && eltwise_for(act, &alg, &alpha)) {
    po.append_eltwise(1.0f, alg, alpha, 0.0f);
  }
  attr.set_post_ops(po);
  if (bias && !int8) {
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
                  Epilogue epilogue, Activation act, ComputeDType dtype, Backend backend) {
  eng_ = eng;
  in_ = in;
  out_ = out;
  epilogue_ = epilogue;
  act_ = act;
  dtype_ = dtype;
  has_bias_ = b != nullptr;
  if (epilogue == Epilogue::kActivation && !fusable(act)) {
    throw Error(ErrorCode::kInternal, "activation cannot be fused into the GEMM");
  }
  // W in the compute dtype, still [out, in] row-major: f32 as given, bf16 rounded, s8 with a
  // scale per output channel (row of W).
  const size_t n = static_cast<size_t>(in * out);
  std::vector<uint16_t> w_bf16;
  std::vector<int8_t> w_s8;
  const void* w_narrow = w;
  if (dtype == ComputeDType::kBF16) {
    w_bf16.resize(n);
    narrow::to_bf16_rows(w, static_cast<size_t>(out), static_cast<size_t>(in), w_bf16.data(), 1);
    w_narrow = w_bf16.data();
    own_gemm_ = backend == Backend::kAuto && !onednn_forced() &&
                NarrowGemm::supported(NarrowGemm::Kind::kBf16, in, out);
    if (own_gemm_) {
      own_.init_bf16(w_bf16.data(), b, in, out);
      return;
    }
  } else if (dtype == ComputeDType::kInt8) {
    w_s8.resize(n);
    w_scales_.resize(static_cast<size_t>(out));
    narrow::quantize_weights_s8(w, static_cast<size_t>(out), static_cast<size_t>(in), w_s8.data(),
                                w_scales_.data());
    w_narrow = w_s8.data();
    own_gemm_ = backend == Backend::kAuto && !onednn_forced() &&
                NarrowGemm::supported(NarrowGemm::Kind::kInt8, in, out);
    if (own_gemm_) {
      own_.init_int8(w_s8.data(), w_scales_.data(), b, in, out);
      return;
    }
  }
  // Let oneDNN pick the weight layout for a typical M, then reorder W once into it.
  memory::desc any(mdims(dtype, in, out), weights_dt(dtype), tag::any);
  auto pd = make_pd(eng, 512, in, out, has_bias_, epilogue, act, dtype, w_scales_, any);
  weights_desc_ = pd.weights_desc();
  // W is [out, in] row-major == a [in, out] matrix in "ba" order.
  memory src({mdims(dtype, in, out), weights_dt(dtype), transposed(dtype)}, eng,
             const_cast<void*>(w_narrow));
  weights_ = memory(weights_desc_, eng);
  dnnl::stream s(eng);
  dnnl::reorder(src, weights_).execute(s, src, weights_);
  s.wait();
  if (has_bias_) {
    bias_data_.reserve(static_cast<size_t>(out));
    std::memcpy(bias_data_.data(), b, static_cast<size_t>(out) * sizeof(float));
    bias_ = memory({mdims(dtype, 1, out), dt::f32, plain(dtype)}, eng, bias_data_.data());
  }
}

std::shared_ptr<const Linear::Prim> Linear::prim(int64_t rows) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(rows);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= 1024) cache_.clear();  // bounded: M <= the batch token budget anyway
  auto pd =
      make_pd(eng_, rows, in_, out_, has_bias_, epilogue_, act_, dtype_, w_scales_, weights_desc_);
  if (pd.weights_desc() != weights_desc_) {
    throw Error(ErrorCode::kInternal,
                "oneDNN chose another weight layout for M=" + std::to_string(rows));
  }
  auto p = std::make_shared<const Prim>(Prim{dnnl::matmul(pd), pd.scratchpad_desc().get_size()});
  cache_.emplace(rows, p);
  return p;
}

size_t Linear::narrowed_bytes(int64_t rows) const {
  return engine::narrowed_bytes(dtype_, rows, in_, own_gemm_);
}

size_t Linear::weight_bytes() const {
  return own_gemm_ ? own_.bytes() : weights_desc_.get_size();
}

void Linear::narrow_input(const float* x, int64_t rows, void* narrowed) const {
  const int threads = omp_get_max_threads();
  auto* base = static_cast<uint8_t*>(narrowed);
  if (dtype_ == ComputeDType::kBF16) {
    narrow::to_bf16_rows(x, static_cast<size_t>(rows), static_cast<size_t>(in_),
                         reinterpret_cast<uint16_t*>(base), threads);
  } else if (dtype_ == ComputeDType::kInt8) {
    const Int8Input in = int8_input(base, rows, in_);
    narrow::quantize_rows_s8(x, static_cast<size_t>(rows), static_cast<size_t>(in_), in.q,
                             in.scales, threads, own_gemm_ ? in.sums : nullptr);
  }
}

size_t Linear::scratchpad_bytes(int64_t rows) const {
  return own_gemm_ ? 0 : prim(rows)->scratch_bytes;
}

void Linear::matmul(const float* x, const void* narrowed, int64_t rows, float* y,
                    void* scratchpad) const {
  if (own_gemm_) {
    const auto* base = static_cast<const uint8_t*>(narrowed);
    const bool accumulate = epilogue_ == Epilogue::kAccumulate;
    const Activation act = epilogue_ == Epilogue::kActivation ? act_ : Activation::kIdentity;
    if (dtype_ == ComputeDType::kBF16) {
      own_.run_bf16(reinterpret_cast<const uint16_t*>(base), rows, y, accumulate, act,
                    omp_get_max_threads());
      return;
    }
    const Int8Input in = int8_input(base, rows, in_);
    own_.run_int8(in.q, in.scales, in.sums, rows, y, accumulate, act, omp_get_max_threads());
    return;
  }
  std::shared_ptr<const Prim> pp = prim(rows);
  const Prim& p = *pp;
  auto* base = static_cast<uint8_t*>(const_cast<void*>(narrowed));
  void* src_data = dtype_ == ComputeDType::kF32 ? static_cast<void*>(const_cast<float*>(x)) : base;
  dnnl::stream s(eng_);
  memory src({mdims(dtype_, rows, in_), weights_dt(dtype_), plain(dtype_)}, eng_, src_data);
  memory dst({mdims(dtype_, rows, out_), dt::f32, plain(dtype_)}, eng_, y);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
  if (dtype_ == ComputeDType::kInt8) {
    float* row_scales = int8_input(base, rows, in_).scales;
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                 memory({{1, rows, 1}, dt::f32, tag::abc}, eng_, row_scales));
    if (has_bias_) args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, bias_);
  } else if (has_bias_) {
    args.emplace(DNNL_ARG_BIAS, bias_);
  }
  if (p.scratch_bytes > 0) {
    args.emplace(
        DNNL_ARG_SCRATCHPAD,
        memory({{static_cast<int64_t>(p.scratch_bytes)}, dt::u8, tag::a}, eng_, scratchpad));
  }
  p.mm.execute(s, args);
  s.wait();
}

void Linear::run(const float* x, int64_t rows, float* y, AlignedBuffer* scratch) const {
  // The caller's scratch holds [narrowed x][oneDNN scratchpad] (64-byte aligned pieces): one
  // buffer per thread, grown to the largest batch, then reused (no allocation per call).
  const size_t nb = narrowed_bytes(rows);
  const size_t total = nb + round64(scratchpad_bytes(rows));
  if (total > 0) scratch->reserve(total / sizeof(float) + 1);
  auto* base = reinterpret_cast<uint8_t*>(scratch->data());
  if (nb > 0) narrow_input(x, rows, base);
  matmul(x, base, rows, y, base + nb);
}

}  // namespace ej::engine
