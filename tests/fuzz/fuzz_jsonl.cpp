// libFuzzer target: the JSON Lines row source (jsonl_source.cpp, simdjson) and the TXT source.
// Input: [max_record selector][file bytes]. Only ej::Error may leave the parser.
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "service/ingest/row_source.h"

using namespace ej::service;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ej::fuzz::MemFile file;
  ej::fuzz::Bytes in(data, size);
  const uint8_t opt = in.take();
  const size_t max_record = (opt & 1) ? 64 : (1u << 20);
  const std::string& path = file.write(in.data(), in.size());
  ingest::WantedFields wanted{{"text", "id", "meta"}, {true, false, false}};
  try {
    auto source = (opt & 2)
                      ? ingest::make_txt_source(path, (opt & 4) ? "\n" : "--", wanted, max_record)
                      : ingest::make_jsonl_source(path, wanted, max_record);
    ingest::RawRow row;
    while (source->next(&row)) {
      if (row.values.size() != wanted.names.size()) __builtin_trap();
      for (const auto& v : row.values) {
        if (v) (void)v->dump();  // values are valid JSON (strings valid UTF-8)
      }
    }
  } catch (const ej::Error&) {
  }
  return 0;
}
