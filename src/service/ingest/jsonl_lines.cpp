#include "service/ingest/jsonl_lines.h"

#include "common/error.h"

namespace ej::service::ingest {

namespace {
constexpr int kMaxJsonDepth = 64;  // as the HTTP front allows for a JSON body
}  // namespace

JsonlLines::JsonlLines(const std::string& path, const IngestOptions& o) : o_(o), file_(path) {
  file_.skip_bom();
}

bool JsonlLines::next(std::string* line, bool* too_long) {
  while (file_.read_line(line, o_.max_record_bytes, too_long)) {
    ++line_no_;
    if ((line_no_ & 1023) == 0 && o_.cancel && o_.cancel->load(std::memory_order_relaxed)) {
      throw Error(ErrorCode::kClientClosed, "dataset validation was cancelled");
    }
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (*too_long || line->find_first_not_of(" \t") != std::string::npos) return true;
  }
  return false;
}

nlohmann::json JsonlLines::parse(const std::string& line) {
  nlohmann::json::parser_callback_t depth_limit = [](int depth, nlohmann::json::parse_event_t,
                                                     nlohmann::json&) {
    if (depth > kMaxJsonDepth) {
      throw_invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(line, depth_limit);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid(std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace ej::service::ingest
