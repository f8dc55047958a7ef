#include "engine/encoder_model.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "engine/kernels.h"
#include "engine/safetensors.h"

namespace ej::engine {

namespace {

namespace fs = std::filesystem;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Looks tensors up across one or more safetensors files (sharded checkpoints), checks name and
// shape, and collects every problem instead of stopping at the first.
class WeightReader {
 public:
  explicit WeightReader(std::vector<SafetensorsFile> files) : files_(std::move(files)) {}

  const TensorInfo* find(const std::string& name, const SafetensorsFile** file) const {
    for (const auto& f : files_) {
      if (const TensorInfo* t = f.find(name)) {
        *file = &f;
        return t;
      }
    }
    return nullptr;
  }
  bool has(const std::string& name) const {
    const SafetensorsFile* f = nullptr;
    return find(name, &f) != nullptr;
  }

  // Reads tensor `name` of the given shape into dst (allocated here); records a problem if it
  // is missing, misshapen or of an unsupported dtype.
  void read(const std::string& name, std::vector<int64_t> shape, AlignedBuffer* dst) {
    const SafetensorsFile* f = nullptr;
    const TensorInfo* t = find(name, &f);
    if (t == nullptr) {
      problems_.push_back("missing tensor '" + name + "' " + shape_str(shape));
      return;
    }
    if (t->shape != shape) {
      problems_.push_back("tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected " +
                          shape_str(shape));
      return;
    }
    if (t->dtype == TensorDType::kUnsupported) {
      problems_.push_back("tensor '" + name + "' has unsupported dtype " + t->dtype_name +
                          " (F32, F16, BF16)");
      return;
    }
    if (!problems_.empty()) return;  // already failing: only keep checking
    dst->reserve(std::max<size_t>(t->numel(), 1));
    f->read_f32(*t, dst->data());
    f->release(*t);
  }
  // Reads `count` same-shaped tensors stacked into one buffer (QKV).
  void read_stacked(const std::vector<std::string>& names, std::vector<int64_t> shape,
                    AlignedBuffer* dst) {
    size_t each = 1;
    for (int64_t d : shape) each *= static_cast<size_t>(d);
    bool ok = true;
    std::vector<AlignedBuffer> parts(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      size_t before = problems_.size();
      read(names[i], shape, &parts[i]);
      ok = ok && problems_.size() == before;
    }
    if (!ok || !problems_.empty()) return;
    dst->reserve(each * names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      std::memcpy(dst->data() + i * each, parts[i].data(), each * sizeof(float));
    }
  }
  std::vector<std::string>& problems() { return problems_; }

 private:
  std::vector<SafetensorsFile> files_;
  std::vector<std::string> problems_;
};

std::vector<SafetensorsFile> open_weights(const fs::path& dir) {
  std::vector<SafetensorsFile> files;
  if (fs::exists(dir / "model.safetensors")) {
    files.push_back(SafetensorsFile::open(dir / "model.safetensors"));
    return files;
  }
  fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidArgument, index.string() + ": not valid JSON");
    }
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      shards.insert(it.value().get<std::string>());
    }
    for (const auto& s : shards) files.push_back(SafetensorsFile::open(dir / s));
    return files;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "cannot load model '" + dir.string() +
                  "': no model.safetensors (pytorch_model.bin is not supported; convert it)");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::unique_ptr<EncoderModel> EncoderModel::load(const fs::path& dir) {
  std::unique_ptr<EncoderModel> m(new EncoderModel());
  m->spec_ = read_encoder_spec(dir);
  const EncoderSpec& s = m->spec_;
  WeightReader r(open_weights(dir));

  // Checkpoints saved from BertModel have bare names; from BertForX / XLMRobertaForX they carry
  // the base model prefix. Pick the prefix under which the word embeddings are found.
  std::string prefix;
  for (const char* p : {"", "bert.", "roberta.", "xlm_roberta.", "model."}) {
    if (r.has(std::string(p) + "embeddings.word_embeddings.weight")) {
      prefix = p;
      break;
    }
  }
  const int64_t h = s.hidden_size, ff = s.intermediate_size;
  const std::string e = prefix + "embeddings.";
  // Copied like every tensor: using an F32 table in place from the mapping measured 70 MB MORE
  // peak RSS on the base model (file pages mapped around neighbouring reads, then most rows
  // touched by real batches), so the table is widened into an aligned buffer too.
  r.read(e + "word_embeddings.weight", {s.vocab_size, h}, &m->word_);
  m->word_table_ = m->word_.data();
  r.read(e + "position_embeddings.weight", {s.max_position_embeddings, h}, &m->pos_);
  r.read(e + "token_type_embeddings.weight", {s.type_vocab_size, h}, &m->type_);
  r.read(e + "LayerNorm.weight", {h}, &m->emb_ln_g_);
  r.read(e + "LayerNorm.bias", {h}, &m->emb_ln_b_);
  m->engine_ = dnnl::engine(dnnl::engine::kind::cpu, 0);
  // EJ_ENGINE_UNFUSED_ACT=1 runs the FFN activation as our own kernel instead of a oneDNN
  // post-op (for A/B checks of accuracy and speed).
  const char* unfused = std::getenv("EJ_ENGINE_UNFUSED_ACT");
  m->fused_act_ = Linear::fusable(s.hidden_act) && !(unfused != nullptr && unfused[0] == '1');
  for (int i = 0; i < s.num_layers; ++i) m->layers_.push_back(std::make_unique<Layer>());
  AlignedBuffer w, b;
  for (int i = 0; i < s.num_layers; ++i) {
    Layer& L = *m->layers_[static_cast<size_t>(i)];
    const std::string p = prefix + "encoder.layer." + std::to_string(i) + ".";
    const std::string a = p + "attention.self.";
    // Each raw weight is read into the reused w / b buffers, then packed by Linear::init.
    auto linear = [&](Linear* lin, const std::string& wname, const std::string& bname, int64_t in,
                      int64_t out, Linear::Epilogue ep, Activation act, AlignedBuffer* keep_bias) {
      size_t before = r.problems().size();
      r.read(wname, {out, in}, &w);
      r.read(bname, {out}, &b);
      if (r.problems().size() != before || !r.problems().empty()) return;
      if (keep_bias != nullptr) {
        keep_bias->reserve(static_cast<size_t>(out));
        std::memcpy(keep_bias->data(), b.data(), static_cast<size_t>(out) * sizeof(float));
        lin->init(m->engine_, w.data(), nullptr, in, out, ep, act);
      } else {
        lin->init(m->engine_, w.data(), b.data(), in, out, ep, act);
      }
    };
    {
      size_t before = r.problems().size();
      r.read_stacked({a + "query.weight", a + "key.weight", a + "value.weight"}, {h, h}, &w);
      AlignedBuffer bqkv;
      r.read_stacked({a + "query.bias", a + "key.bias", a + "value.bias"}, {h}, &bqkv);
      if (r.problems().size() == before && r.problems().empty()) {
        L.qkv.init(m->engine_, w.data(), bqkv.data(), h, 3 * h, Linear::Epilogue::kNone);
      }
    }
    linear(&L.o, p + "attention.output.dense.weight", p + "attention.output.dense.bias", h, h,
           Linear::Epilogue::kAccumulate, Activation::kIdentity, nullptr);
    r.read(p + "attention.output.LayerNorm.weight", {h}, &L.ln1_g);
    r.read(p + "attention.output.LayerNorm.bias", {h}, &L.ln1_b);
    if (m->fused_act_) {
      linear(&L.up, p + "intermediate.dense.weight", p + "intermediate.dense.bias", h, ff,
             Linear::Epilogue::kActivation, s.hidden_act, nullptr);
    } else {
      linear(&L.up, p + "intermediate.dense.weight", p + "intermediate.dense.bias", h, ff,
             Linear::Epilogue::kNone, Activation::kIdentity, &L.bi);
    }
    linear(&L.down, p + "output.dense.weight", p + "output.dense.bias", ff, h,
           Linear::Epilogue::kAccumulate, Activation::kIdentity, nullptr);
    r.read(p + "output.LayerNorm.weight", {h}, &L.ln2_g);
    r.read(p + "output.LayerNorm.bias", {h}, &L.ln2_b);
  }
  std::vector<std::string> problems = std::move(r.problems());

  for (const DenseSpec& d : s.dense) {
    Dense dw;
    try {
      std::vector<SafetensorsFile> df;
      df.push_back(SafetensorsFile::open(d.dir / "model.safetensors"));
      WeightReader dr(std::move(df));
      dr.read("linear.weight", {d.out_features, d.in_features}, &dw.w);
      if (d.bias) dr.read("linear.bias", {d.out_features}, &dw.b);
      for (auto& p : dr.problems()) problems.push_back(d.dir.filename().string() + ": " + p);
    } catch (const Error& err) {
      problems.push_back(err.what());
    }
    m->dense_.push_back(std::move(dw));
  }
  if (!problems.empty()) {
    std::string msg = "cannot load model '" + dir.string() +
                      "': " + std::to_string(problems.size()) + " problem(s) with the weights:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::kInvalidArgument, msg);
  }
  return m;
}

void EncoderModel::forward(const PackedBatch& batch, int threads, EncoderWorkspace* ws,
                           float* embeddings, float* hidden, ForwardStats* stats) const {
  using clock = std::chrono::steady_clock;
  const size_t n = batch.size();
  if (n == 0) return;
  threads = std::max(1, threads);
  omp_set_num_threads(threads);  // for oneDNN's GEMMs started from this thread
  ForwardStats st;
  auto t0 = clock::now();

  const EncoderSpec& s = spec_;
  const int64_t H = s.hidden_size, FF = s.intermediate_size, NH = s.num_heads;
  const int64_t dh = s.head_dim();
  const int64_t T = batch.offsets[n] - batch.offsets[0];
  const int32_t base = batch.offsets[0];
  int64_t max_len = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t len = batch.offsets[i + 1] - batch.offsets[i];
    if (len <= 0) throw Error(ErrorCode::kInvalidArgument, "empty token sequence in batch");
    if (len > max_positions()) {
      throw Error(ErrorCode::kInvalidArgument, "sequence of " + std::to_string(len) +
                                                   " tokens is longer than the model's " +
                                                   std::to_string(max_positions()) + " positions");
    }
    max_len = std::max(max_len, len);
  }

  ws->x.reserve(static_cast<size_t>(T * H));
  ws->big.reserve(static_cast<size_t>(T * std::max<int64_t>(3 * H, FF)));
  ws->ctx.reserve(static_cast<size_t>(T * H));
  if (ws->scores.size() < static_cast<size_t>(threads)) ws->scores.resize(threads);
  for (int i = 0; i < threads; ++i) {
    ws->scores[i].reserve(
        kernels::attention_scratch_floats(static_cast<size_t>(max_len), static_cast<size_t>(dh)));
  }

  // Embeddings: word + position + token type (0), then LayerNorm.
  ws->positions.resize(static_cast<size_t>(T));
  for (size_t i = 0; i < n; ++i) {
    int32_t pos = s.position_offset;
    for (int32_t t = batch.offsets[i]; t < batch.offsets[i + 1]; ++t) {
      int32_t id = batch.ids[static_cast<size_t>(t)];
      if (id < 0 || id >= s.vocab_size) {
        throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                     " outside the vocabulary (" +
                                                     std::to_string(s.vocab_size) + ")");
      }
      if (s.family == ModelFamily::kXlmRoberta && id == s.pad_token_id) {
        ws->positions[static_cast<size_t>(t - base)] = s.pad_token_id;  // pads do not advance
      } else {
        ws->positions[static_cast<size_t>(t - base)] = pos++;
      }
    }
  }
  float* x = ws->x.data();
  {
    const float* type0 = type_.data();
#pragma omp parallel for num_threads(threads) schedule(static) if (T * H > 32768)
    for (int64_t t = 0; t < T; ++t) {
      const float* w = word_table_ + static_cast<int64_t>(batch.ids[base + t]) * H;
      const float* p = pos_.data() + static_cast<int64_t>(ws->positions[t]) * H;
      float* o = x + t * H;
      for (int64_t c = 0; c < H; ++c) o[c] = w[c] + p[c] + type0[c];
    }
  }
  kernels::layernorm_rows(x, emb_ln_g_.data(), emb_ln_b_.data(), s.layer_norm_eps,
                          static_cast<size_t>(T), static_cast<size_t>(H), threads);
  st.other_s += seconds_since(t0);

  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  float* qkv = ws->big.data();
  float* ctx = ws->ctx.data();
  for (const auto& layer : layers_) {
    const Layer& L = *layer;
    auto t1 = clock::now();
    L.qkv.run(x, T, qkv, &ws->gemm_scratch);  // + bias
    st.gemm_s += seconds_since(t1);

    // Attention, one task per (sequence, head).
    t1 = clock::now();
    const int64_t tasks = static_cast<int64_t>(n) * NH;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const size_t i = static_cast<size_t>(task / NH);
      const int64_t head = task % NH;
      const int64_t off = batch.offsets[i] - base;
      const int64_t len = batch.offsets[i + 1] - batch.offsets[i];
      float* sc = ws->scores[static_cast<size_t>(omp_get_thread_num())].data();
      const float* q = qkv + off * 3 * H + head * dh;
      kernels::attention_head(q, q + H, q + 2 * H, static_cast<size_t>(3 * H),
                              static_cast<size_t>(len), static_cast<size_t>(dh), scale,
                              ctx + off * H + head * dh, static_cast<size_t>(H), sc);
    }
    st.attention_s += seconds_since(t1);

    t1 = clock::now();
    L.o.run(ctx, T, x, &ws->gemm_scratch);  // x += ctx Wo^T + bo
    st.gemm_s += seconds_since(t1);
    t1 = clock::now();
    kernels::layernorm_rows(x, L.ln1_g.data(), L.ln1_b.data(), s.layer_norm_eps,
                            static_cast<size_t>(T), static_cast<size_t>(H), threads);
    st.other_s += seconds_since(t1);

    float* inter = ws->big.data();  // QKV is dead now
    t1 = clock::now();
    L.up.run(x, T, inter, &ws->gemm_scratch);  // + bias, activation when fused
    st.gemm_s += seconds_since(t1);
    if (!fused_act_) {
      t1 = clock::now();
      kernels::bias_activation_rows(inter, static_cast<size_t>(T), static_cast<size_t>(FF),
                                    static_cast<size_t>(FF), L.bi.data(), s.hidden_act, threads);
      st.other_s += seconds_since(t1);
    }
    t1 = clock::now();
    L.down.run(inter, T, x, &ws->gemm_scratch);  // x += inter Wd^T + bd
    st.gemm_s += seconds_since(t1);
    t1 = clock::now();
    kernels::layernorm_rows(x, L.ln2_g.data(), L.ln2_b.data(), s.layer_norm_eps,
                            static_cast<size_t>(T), static_cast<size_t>(H), threads);
    st.other_s += seconds_since(t1);
  }

  auto t2 = clock::now();
  if (hidden != nullptr) std::memcpy(hidden, x, static_cast<size_t>(T * H) * sizeof(float));
  pool_and_post(batch, ws, embeddings);
  st.other_s += seconds_since(t2);
  if (stats != nullptr) stats->add(st);
}

void EncoderModel::pool_and_post(const PackedBatch& batch, EncoderWorkspace* ws,
                                 float* embeddings) const {
  const EncoderSpec& s = spec_;
  const PoolingSpec& P = s.pooling;
  const size_t n = batch.size();
  const int64_t H = s.hidden_size;
  const int32_t base = batch.offsets[0];
  int64_t width = H * std::max(1, P.num_modes());
  for (const DenseSpec& d : s.dense) width = std::max<int64_t>(width, d.out_features);
  ws->pooled.reserve(static_cast<size_t>(n * width));
  ws->pooled2.reserve(static_cast<size_t>(n * width));
  float* pooled = ws->pooled.data();
  std::vector<double> acc(static_cast<size_t>(H));
  int64_t dims = H * std::max(1, P.num_modes());
  for (size_t i = 0; i < n; ++i) {
    const float* rows = ws->x.data() + static_cast<int64_t>(batch.offsets[i] - base) * H;
    const int64_t len = batch.offsets[i + 1] - batch.offsets[i];
    int64_t skip = 0;
    if (!P.include_prompt && !batch.prompt_tokens.empty()) {
      skip = std::min<int64_t>(batch.prompt_tokens[i], len - 1);
    }
    float* out = pooled + static_cast<int64_t>(i) * dims;
    if (P.cls) {
      std::memcpy(out, rows, static_cast<size_t>(H) * sizeof(float));
      out += H;
    }
    if (P.max) {
      for (int64_t c = 0; c < H; ++c) {
        float m = -1e9f;
        for (int64_t t = skip; t < len; ++t) m = std::max(m, rows[t * H + c]);
        out[c] = m;
      }
      out += H;
    }
    if (P.mean || P.mean_sqrt_len) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = skip; t < len; ++t) {
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] += rows[t * H + c];
      }
      const double cnt = static_cast<double>(std::max<int64_t>(len - skip, 1));
      if (P.mean) {
        for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / cnt);
        out += H;
      }
      if (P.mean_sqrt_len) {
        for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / std::sqrt(cnt));
        out += H;
      }
    }
    if (P.weighted_mean) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double wsum = 0;
      for (int64_t t = skip; t < len; ++t) {
        const double w = static_cast<double>(t + 1);
        wsum += w;
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] += w * rows[t * H + c];
      }
      for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / std::max(wsum, 1e-9));
      out += H;
    }
    if (P.last_token) {
      std::memcpy(out, rows + (len - 1) * H, static_cast<size_t>(H) * sizeof(float));
      out += H;
    }
  }

  // Dense / Normalize steps in modules.json order.
  float* cur = pooled;
  float* other = ws->pooled2.data();
  for (const PostStep& step : s.post) {
    if (step.kind == PostStep::kDense) {
      const DenseSpec& d = s.dense[static_cast<size_t>(step.dense_index)];
      const Dense& w = dense_[static_cast<size_t>(step.dense_index)];
      for (size_t i = 0; i < n; ++i) {
        const float* in = cur + static_cast<int64_t>(i) * d.in_features;
        float* o = other + static_cast<int64_t>(i) * d.out_features;
        for (int j = 0; j < d.out_features; ++j) {
          const float* wr = w.w.data() + static_cast<int64_t>(j) * d.in_features;
          double a = d.bias ? w.b.data()[j] : 0.0;
          for (int c = 0; c < d.in_features; ++c) a += static_cast<double>(wr[c]) * in[c];
          o[j] = static_cast<float>(a);
        }
        kernels::activation(o, static_cast<size_t>(d.out_features), d.activation);
      }
      std::swap(cur, other);
      dims = d.out_features;
    } else {
      for (size_t i = 0; i < n; ++i) {
        float* v = cur + static_cast<int64_t>(i) * dims;
        double ss = 0;
        for (int64_t c = 0; c < dims; ++c) ss += static_cast<double>(v[c]) * v[c];
        const double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
        for (int64_t c = 0; c < dims; ++c) v[c] = static_cast<float>(v[c] * inv);
      }
    }
  }
  std::memcpy(embeddings, cur, static_cast<size_t>(n * dims) * sizeof(float));
}

}  // namespace ej::engine
