// libFuzzer target: the CSV row source (csv_source.cpp) and format sniffing over any bytes.
// Input: [delimiter byte][max_record selector][file bytes]. Only ej::Error may leave the parser
// (a 400 naming the line); anything else (a crash, a sanitizer report, another exception) fails.
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "service/ingest/row_source.h"

using namespace ej::service;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ej::fuzz::MemFile file;
  ej::fuzz::Bytes in(data, size);
  const char delims[] = {',', ';', '\t', '|', '"', '\n'};
  const char delim = delims[in.take() % sizeof(delims)];
  const size_t max_record = (in.take() & 1) ? 64 : (1u << 20);
  const std::string& path = file.write(in.data(), in.size());
  try {
    (void)detect_input_format("", in.rest().substr(0, 4096), delim);
  } catch (const ej::Error&) {
  }
  ingest::WantedFields wanted{{"text", "id", "title"}, {true, false, false}};
  try {
    auto source = ingest::make_csv_source(path, delim, wanted, max_record);
    ingest::RawRow row;
    int64_t last_line = 0;
    while (source->next(&row)) {
      if (row.line < last_line) __builtin_trap();  // lines only go forward
      if (row.values.size() != wanted.names.size()) __builtin_trap();
      last_line = row.line;
    }
  } catch (const ej::Error&) {
  }
  return 0;
}
