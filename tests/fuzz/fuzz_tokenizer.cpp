// libFuzzer target: the tokenizers (engine/tokenizer) on the tiny fixture tokenizer.json files
// of tests/data: WordPiece (bert-tiny), byte-level BPE (qwen3-tiny), Unigram (xlmr-tiny) and
// SentencePiece BPE (gemma3-emb-tiny). Input: [tokenizer selector][max_length byte][text]. Checks
// encode's invariants (max_length respected, ids in the vocabulary), that encode_ids_no_specials
// and decode run, and that nothing but ej::Error comes out.
#include <cstdint>
#include <memory>
#include <vector>

#include "common/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz_input.h"

using ej::engine::Tokenizer;

namespace {

const std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
  static const std::vector<std::unique_ptr<Tokenizer>> all = [] {
    std::vector<std::unique_ptr<Tokenizer>> v;
    for (const char* name : {"bert-tiny", "qwen3-tiny", "xlmr-tiny", "gemma3-emb-tiny"}) {
      v.push_back(Tokenizer::from_file(std::string(EJ_TEST_DATA) + "/" + name + "/tokenizer.json"));
    }
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ej::fuzz::Bytes in(data, size);
  const Tokenizer& tok = *tokenizers()[in.take() % tokenizers().size()];
  const int max_length = in.take() % 40;  // 0 = no limit
  const uint8_t dir = in.take();
  const std::string_view text = in.rest();
  try {
    const auto direction = dir & 1 ? ej::engine::Truncate::kStart : ej::engine::Truncate::kEnd;
    ej::engine::Encoding enc = tok.encode(text, max_length, direction);
    if (max_length >= tok.num_special_tokens() && max_length > 0 &&
        static_cast<int>(enc.ids.size()) > max_length) {
      __builtin_trap();
    }
    if (enc.num_tokens_untruncated < static_cast<int>(enc.ids.size())) __builtin_trap();
    for (int32_t id : enc.ids) {
      if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) __builtin_trap();
    }
    std::vector<int32_t> ids = tok.encode_ids_no_specials(text);
    (void)tok.token_strings(ids);
    (void)tok.decode(ids, (dir & 2) != 0);
  } catch (const ej::Error&) {
  }
  return 0;
}
