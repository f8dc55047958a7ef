#include "service/ingest/format_detect.h"

#include <iterator>
#include <string>

#include "common/error.h"
#include "service/ingest/text_util.h"

namespace ej::service {

namespace {

using ingest::lower;
using ingest::strip_bom;
using ingest::trim;

constexpr const char* kObjectObjectMessage =
    "the uploaded file contains only the text \"[object Object]\": the cohere-ai JavaScript SDK "
    "sends this when it is given a stream or a {path}/{data, filename} object. Pass the file "
    "contents as a Buffer, Blob or File instead, e.g. new File([fs.readFileSync(path)], "
    "\"data.jsonl\")";

constexpr const char* kEmptyMessage = "the uploaded file is empty";

constexpr const char* kJsonArrayMessage =
    "a JSON array is not supported: upload JSON Lines (one JSON object per line)";

void check_not_object_object(std::string_view head) {
  if (trim(head) == "[object Object]") throw_invalid(kObjectObjectMessage);
}

// Whether the CSV line `first` has a cell that reads "text" (trimmed; quotes undone).
bool has_text_column(std::string_view first, char csv_delimiter) {
  std::string cell;
  bool in_quotes = false;
  for (size_t i = 0; i <= first.size(); ++i) {
    char c = i < first.size() ? first[i] : csv_delimiter;
    if (in_quotes) {
      if (c == '"' && i + 1 < first.size() && first[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == csv_delimiter) {
      if (trim(cell) == "text") return true;
      cell.clear();
    } else {
      cell.push_back(c);
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(InputFormat format) {
  constexpr std::string_view kNames[] = {"auto", "csv", "jsonl", "txt"};  // InputFormat order
  const auto i = static_cast<size_t>(format);
  return i < std::size(kNames) ? kNames[i] : "auto";
}

InputFormat detect_input_format(std::string_view filename, std::string_view head,
                                char csv_delimiter) {
  check_not_object_object(head);
  std::string base(filename);
  if (auto slash = base.find_last_of("/\\"); slash != std::string::npos)
    base = base.substr(slash + 1);
  if (auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) {
    std::string ext = lower(base.substr(dot + 1));
    if (ext == "csv") return InputFormat::kCsv;
    if (ext == "jsonl" || ext == "json" || ext == "ndjson") return InputFormat::kJsonl;
    if (ext == "txt") return InputFormat::kTxt;
  }
  // Sniff.
  std::string_view rest = strip_bom(head);
  std::string_view first;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!trim(line).empty()) {
      first = trim(line);
      break;
    }
  }
  if (first.empty()) throw_invalid(kEmptyMessage);
  if (first.front() == '{') return InputFormat::kJsonl;
  if (first.front() == '[') throw_invalid(kJsonArrayMessage);
  // CSV: the first line must be a header with a "text" column.
  if (has_text_column(first, csv_delimiter)) return InputFormat::kCsv;
  throw_invalid(
      "could not tell the format of the uploaded file: give it a .csv, .jsonl or .txt name, "
      "or upload JSON Lines (one JSON object per line) or a CSV file whose header has a "
      "\"text\" column");
}

namespace ingest {

InputFormat resolve_input_format(const IngestOptions& o, std::string_view head) {
  if (trim(head).empty() || trim(head) == kBom) throw_invalid(kEmptyMessage);
  InputFormat format = o.format;
  if (format == InputFormat::kAuto) {
    format = detect_input_format(o.filename, head, o.csv_delimiter[0]);
  } else {
    check_not_object_object(head);
  }
  if (format == InputFormat::kJsonl) {
    std::string_view h = trim(strip_bom(head));
    if (!h.empty() && h.front() == '[') throw_invalid(kJsonArrayMessage);
  }
  return format;
}

}  // namespace ingest

}  // namespace ej::service
