// C++ side of the tokenizer cross-check: encodes the corpus written by crosscheck.js with
// ej::engine::Tokenizer for every tokenizer variant and compares with the ids Hugging Face
// tokenizers produced (untruncated, truncated END and START, and the code point sweep), then
// decodes HF's ids and compares with HF's decode (with and without skip_special_tokens, and of
// the END-truncated ids).
//   compare_ids <dir written by crosscheck.js>
// Exit status 0 when every text of every variant matches, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace {

using ej::engine::Encoding;
using ej::engine::Tokenizer;
using ej::engine::Truncate;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

std::string excerpt(const std::string& s) {
  nlohmann::json j = s.size() > 160 ? s.substr(0, 160) + "..." : s;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size() && i < 40; ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  if (ids.size() > 40) out += ",... (" + std::to_string(ids.size()) + ")";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    nlohmann::json corpus = read_json(dir + "/corpus.json");
    auto texts = corpus.at("texts").get<std::vector<std::string>>();
    auto sweep = corpus.at("sweep_texts").get<std::vector<std::string>>();
    nlohmann::json manifest = read_json(dir + "/manifest.json");
    int bad_variants = 0;
    size_t total_texts = 0;
    size_t total_tokens = 0;
    double total_us = 0;
    for (const auto& v : manifest.at("variants")) {
      const std::string name = v.at("name").get<std::string>();
      const std::string file = v.at("tokenizer").get<std::string>();
      auto tokenizer = Tokenizer::from_file(file.starts_with("/") ? file : dir + "/" + file);
      nlohmann::json ref = read_json(dir + "/" + v.at("ids").get<std::string>());
      const int trunc = ref.at("trunc_max_length").get<int>();
      int mismatches = 0;
      size_t compared = 0;
      auto check = [&](const char* what, const std::vector<std::string>& list,
                       const nlohmann::json& want, int max_length, Truncate dir_) {
        if (want.size() != list.size()) throw std::runtime_error(name + ": size mismatch");
        for (size_t i = 0; i < list.size(); ++i) {
          auto t0 = std::chrono::steady_clock::now();
          Encoding e = tokenizer->encode(list[i], max_length, dir_);
          if (max_length == 0) {
            total_us +=
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count();
            total_tokens += e.ids.size();
            ++total_texts;
          }
          ++compared;
          auto expect = want[i].get<std::vector<int32_t>>();
          if (e.ids != expect) {
            if (++mismatches <= 5) {
              size_t k = 0;
              while (k < e.ids.size() && k < expect.size() && e.ids[k] == expect[k]) ++k;
              std::printf(
                  "MISMATCH %s %s #%zu text=%s\n  first diff at %zu\n  hf:  %s\n  ours: %s\n",
                  name.c_str(), what, i, excerpt(list[i]).c_str(), k,
                  ids_str(std::vector<int32_t>(
                              expect.begin() + static_cast<long>(std::min(k, expect.size())),
                              expect.end()))
                      .c_str(),
                  ids_str(std::vector<int32_t>(
                              e.ids.begin() + static_cast<long>(std::min(k, e.ids.size())),
                              e.ids.end()))
                      .c_str());
            }
          }
        }
      };
      check("ids", texts, ref.at("ids"), 0, Truncate::kNone);
      check("trunc_end", texts, ref.at("trunc_end"), trunc, Truncate::kEnd);
      check("trunc_start", texts, ref.at("trunc_start"), trunc, Truncate::kStart);
      if (!ref.at("sweep_ids").is_null()) {
        check("sweep", sweep, ref.at("sweep_ids"), 0, Truncate::kNone);
      }
      int decode_mismatches = 0;
      size_t decoded = 0;
      auto check_decode = [&](const char* what, const nlohmann::json& ids,
                              const nlohmann::json& want, bool skip_special) {
        if (want.size() != ids.size()) throw std::runtime_error(name + ": decode size mismatch");
        for (size_t i = 0; i < ids.size(); ++i) {
          auto list = ids[i].get<std::vector<int32_t>>();
          std::string got = tokenizer->decode(list, skip_special);
          const std::string& expect = want[i].get_ref<const std::string&>();
          ++decoded;
          if (got != expect && ++decode_mismatches <= 5) {
            std::printf("MISMATCH %s %s #%zu ids=%s\n  hf:   %s\n  ours: %s\n", name.c_str(), what,
                        i, ids_str(list).c_str(), excerpt(expect).c_str(), excerpt(got).c_str());
          }
        }
      };
      if (ref.contains("decode")) {
        check_decode("decode", ref.at("ids"), ref.at("decode"), false);
        check_decode("decode_skip_special", ref.at("ids"), ref.at("decode_skip_special"), true);
        check_decode("decode_trunc_end", ref.at("trunc_end"), ref.at("decode_trunc_end"), false);
      }
      std::printf("%-36s %6zu encodings, %d mismatched; %5zu decodes, %d mismatched\n",
                  name.c_str(), compared, mismatches, decoded, decode_mismatches);
      if (mismatches || decode_mismatches) ++bad_variants;
    }
    std::printf("C++ tokenizers: %zu texts, %zu tokens in %.1f ms (%.0f tokens/s, 1 thread)\n",
                total_texts, total_tokens, total_us / 1000, total_tokens / (total_us / 1e6));
    if (bad_variants) {
      std::printf("FAILED: %d tokenizer variants differ from Hugging Face tokenizers\n",
                  bad_variants);
      return 1;
    }
    std::printf("OK: all tokenizer variants match Hugging Face tokenizers\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_ids: %s\n", e.what());
    return 2;
  }
}
