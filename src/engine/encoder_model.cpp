#include "engine/encoder_model.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "engine/weights.h"

namespace ej::engine {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::unique_ptr<EncoderModel> EncoderModel::load(const std::filesystem::path& dir,
                                                 ComputeDType dtype) {
  std::unique_ptr<EncoderModel> m(new EncoderModel());
  m->dtype_ = dtype;
  m->spec_ = read_encoder_spec(dir);
  const EncoderSpec& s = m->spec_;
  const ArchSpec& a = *s.arch;
  WeightReader r = WeightReader::open_dir(dir);

  // Checkpoints saved from XForY carry the base model's prefix: pick the one under which the
  // word embeddings are found.
  std::string prefix = a.prefixes.front();
  for (const std::string& p : a.prefixes) {
    if (r.has(p + a.embeddings.word)) {
      prefix = p;
      break;
    }
  }
  const int64_t H = a.hidden_size;
  m->max_positions_ = s.max_seq_length;
  m->embeddings_.load(r, a.embeddings, prefix, a.vocab_size, H,
                      s.max_position_embeddings > 0 ? s.max_position_embeddings : 0);
  if (m->embeddings_.max_len() > 0) {
    m->max_positions_ = static_cast<int>(
        std::min<int64_t>(m->embeddings_.max_len(), static_cast<int64_t>(s.max_seq_length)));
  }
  for (const RopeSpec& rs : a.ropes) {
    m->ropes_.emplace_back();
    m->ropes_.back().init(rs, m->max_positions_);
  }
  const int rel_heads = a.blocks.empty() ? 0 : a.blocks.front().attn.num_heads;
  m->relative_bias_.load(r, a.relative_bias, prefix, rel_heads);
  m->engine_ = dnnl::engine(dnnl::engine::kind::cpu, 0);
  // EJ_ENGINE_UNFUSED_ACT=1 runs the FFN activation as our own kernel instead of a oneDNN
  // post-op (for A/B checks of accuracy and speed).
  const char* unfused = std::getenv("EJ_ENGINE_UNFUSED_ACT");
  const bool fuse_act = !(unfused != nullptr && unfused[0] == '1');
  for (const BlockSpec& bs : a.blocks) {
    auto b = std::make_unique<Block>();
    b->style = bs.style;
    // Post- and pre-norm blocks add the projections onto the residual inside the GEMM;
    // sandwich blocks normalize the projection first.
    const Linear::Epilogue ep =
        bs.style == BlockSpec::kSandwich ? Linear::Epilogue::kNone : Linear::Epilogue::kAccumulate;
    b->norm1.load(r, bs.norm1, prefix, H);
    b->attn.load(r, m->engine_, bs.attn, prefix, H, ep, dtype);
    b->post1.load(r, bs.post1, prefix, H);
    b->norm2.load(r, bs.norm2, prefix, H);
    b->mlp.load(r, m->engine_, bs.mlp, prefix, H, ep, fuse_act, dtype);
    b->post2.load(r, bs.post2, prefix, H);
    if (bs.attn.num_kv_heads <= 0 || bs.attn.num_heads % bs.attn.num_kv_heads != 0 ||
        bs.attn.head_dim <= 0) {
      r.problem("attention heads / kv heads / head_dim do not fit");
    }
    if (bs.attn.rope >= 0 &&
        (bs.attn.rope >= static_cast<int>(a.ropes.size()) ||
         a.ropes[static_cast<size_t>(bs.attn.rope)].rotary_dim > bs.attn.head_dim)) {
      r.problem("rotary dims exceed head_dim");
    }
    m->max_big_ = std::max({m->max_big_, b->attn.qkv_width(), b->mlp.up_width()});
    m->max_ctx_ = std::max(m->max_ctx_, b->attn.q_width());
    m->max_ff_ = std::max(m->max_ff_, b->mlp.ff());
    m->blocks_.push_back(std::move(b));
  }
  m->final_norm_.load(r, a.final_norm, prefix, H);
  std::vector<std::string> problems = std::move(r.problems());
  m->head_.load(m->spec_, m->engine_, dtype, &problems);
  if (!problems.empty()) {
    std::string msg = "cannot load model '" + dir.string() +
                      "': " + std::to_string(problems.size()) + " problem(s) with the weights:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::kInvalidArgument, msg);
  }
  return m;
}

void EncoderModel::run_block(const Block& b, const BatchContext& bc, EncoderWorkspace* ws,
                             ForwardStats* st) const {
  using clock = std::chrono::steady_clock;
  const int64_t T = bc.tokens, H = spec_.arch->hidden_size;
  float* x = ws->x.data();
  float* tmp = ws->tmp.data();
  const size_t rows = static_cast<size_t>(T);
  const int rope_i = b.attn.spec().rope;
  const Rope* rope = rope_i >= 0 ? &ropes_[static_cast<size_t>(rope_i)] : nullptr;
  const float* rel = b.attn.spec().relative_bias ? ws->rel.data() : nullptr;
  auto norm_into_tmp = [&](const Norm& n) {  // tmp = n(x), or x itself without a norm
    if (!n.present()) return static_cast<const float*>(x);
    std::memcpy(tmp, x, rows * static_cast<size_t>(H) * sizeof(float));
    n.apply(tmp, rows, bc.threads);
    return static_cast<const float*>(tmp);
  };
  auto add_into_x = [&](const float* y) {
    for (size_t i = 0; i < rows * static_cast<size_t>(H); ++i) x[i] += y[i];
  };
  switch (b.style) {
    case BlockSpec::kPostNorm: {
      b.attn.forward(x, x, bc, rope, rel, ws, st);  // x += attn(x)
      auto t1 = clock::now();
      b.norm1.apply(x, rows, bc.threads);
      st->other_s += seconds_since(t1);
      b.mlp.forward(x, x, bc, ws, st);  // x += mlp(x)
      t1 = clock::now();
      b.norm2.apply(x, rows, bc.threads);
      st->other_s += seconds_since(t1);
      break;
    }
    case BlockSpec::kPreNorm: {
      auto t1 = clock::now();
      const float* h = norm_into_tmp(b.norm1);
      st->other_s += seconds_since(t1);
      b.attn.forward(h, x, bc, rope, rel, ws, st);  // x += attn(norm1(x))
      t1 = clock::now();
      h = norm_into_tmp(b.norm2);
      st->other_s += seconds_since(t1);
      b.mlp.forward(h, x, bc, ws, st);  // x += mlp(norm2(x))
      break;
    }
    case BlockSpec::kSandwich: {
      float* out = ws->ctx2.data();
      auto t1 = clock::now();
      const float* h = norm_into_tmp(b.norm1);
      st->other_s += seconds_since(t1);
      b.attn.forward(h, out, bc, rope, rel, ws, st);
      t1 = clock::now();
      b.post1.apply(out, rows, bc.threads);
      add_into_x(out);
      h = norm_into_tmp(b.norm2);
      st->other_s += seconds_since(t1);
      b.mlp.forward(h, out, bc, ws, st);
      t1 = clock::now();
      b.post2.apply(out, rows, bc.threads);
      add_into_x(out);
      st->other_s += seconds_since(t1);
      break;
    }
  }
}

void EncoderModel::forward(const PackedBatch& batch, int threads, EncoderWorkspace* ws,
                           float* embeddings, float* hidden, ForwardStats* stats) const {
  const size_t n = batch.size();
  if (n == 0) return;
  threads = std::max(1, threads);
  omp_set_num_threads(threads);  // for oneDNN's GEMMs started from this thread
  ForwardStats st;
  auto t0 = std::chrono::steady_clock::now();

  const int64_t H = spec_.arch->hidden_size;
  BatchContext bc;
  bc.batch = &batch;
  bc.threads = threads;
  bc.base = batch.offsets[0];
  bc.tokens = batch.offsets[n] - batch.offsets[0];
  for (size_t i = 0; i < n; ++i) {
    const int64_t len = batch.offsets[i + 1] - batch.offsets[i];
    if (len <= 0) throw Error(ErrorCode::kInvalidArgument, "empty token sequence in batch");
    if (len > max_positions()) {
      throw Error(ErrorCode::kInvalidArgument, "sequence of " + std::to_string(len) +
                                                   " tokens is longer than the model's " +
                                                   std::to_string(max_positions()) + " positions");
    }
    bc.max_len = std::max(bc.max_len, len);
  }
  const int64_t T = bc.tokens;
  const size_t rows = static_cast<size_t>(T);
  ws->x.reserve(rows * static_cast<size_t>(H));
  ws->tmp.reserve(rows * static_cast<size_t>(H));
  ws->ctx2.reserve(rows * static_cast<size_t>(H));
  ws->big.reserve(rows * static_cast<size_t>(max_big_));
  ws->ctx.reserve(rows * static_cast<size_t>(std::max(max_ctx_, H)));
  ws->inter.reserve(rows * static_cast<size_t>(max_ff_));
  if (ws->scores.size() < static_cast<size_t>(threads)) ws->scores.resize(threads);
  size_t scratch = 0;
  for (const auto& b : blocks_) {
    scratch = std::max(scratch, b->attn.scratch_floats(static_cast<size_t>(bc.max_len)));
  }
  for (int i = 0; i < threads; ++i) ws->scores[static_cast<size_t>(i)].reserve(scratch);
  ws->rope_pos.resize(rows);
  for (size_t i = 0; i < n; ++i) {
    for (int32_t t = batch.offsets[i]; t < batch.offsets[i + 1]; ++t) {
      ws->rope_pos[static_cast<size_t>(t - bc.base)] = t - batch.offsets[i];
    }
  }
  if (relative_bias_.present()) {
    const int64_t heads = blocks_.front()->attn.spec().num_heads;
    ws->rel.reserve(static_cast<size_t>(heads * (2 * bc.max_len - 1)));
    relative_bias_.expand(bc.max_len, ws->rel.data());
  }
  embeddings_.forward(bc, ws->x.data(), ws);
  st.other_s += seconds_since(t0);

  for (const auto& b : blocks_) run_block(*b, bc, ws, &st);

  auto t2 = std::chrono::steady_clock::now();
  if (final_norm_.present()) final_norm_.apply(ws->x.data(), rows, threads);
  if (hidden != nullptr) {
    std::memcpy(hidden, ws->x.data(), rows * static_cast<size_t>(H) * sizeof(float));
  }
  head_.run(batch, ws->x.data(), ws, embeddings);
  st.other_s += seconds_since(t2);
  if (stats != nullptr) stats->add(st);
}

}  // namespace ej::engine
