#include "api/http/multipart.h"

#include "api/http/message.h"
#include "common/error.h"

namespace ej::api::http {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `key=` in a `; `-separated header parameter list ("" + false when absent).
bool header_param(std::string_view header, std::string_view key, std::string* out) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    // a quoted value may hold ';'
    std::string_view item =
        header.substr(pos, semi == std::string_view::npos ? header.npos : semi - pos);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && to_lower(trim(item.substr(0, eq))) == key) {
      std::string_view rest = trim(header.substr(pos + eq + 1));
      if (!rest.empty() && rest.front() == '"') {
        std::string v;
        for (size_t i = 1; i < rest.size(); ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) {
            v.push_back(rest[++i]);
          } else if (rest[i] == '"') {
            *out = v;
            return true;
          } else {
            v.push_back(rest[i]);
          }
        }
        return false;  // unterminated quote
      }
      size_t end = rest.find(';');
      *out = std::string(trim(rest.substr(0, end)));
      return true;
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return false;
}
}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  std::string b;
  if (!header_param(content_type, "boundary", &b) || b.empty()) {
    throw_invalid("malformed multipart body: the Content-Type has no boundary parameter");
  }
  if (b.size() > 70) {
    throw_invalid("malformed multipart body: the boundary is longer than 70 characters");
  }
  return b;
}

MultipartParser::MultipartParser(std::string boundary, PartFn on_part, DataFn on_data)
    : dash_boundary_("--" + boundary),
      delimiter_("\r\n--" + boundary),
      on_part_(std::move(on_part)),
      on_data_(std::move(on_data)) {}

void MultipartParser::fail(const std::string& what) const {
  throw_invalid("malformed multipart body: " + what);
}

bool MultipartParser::parse_headers(std::string_view block) {
  MultipartPart part;
  bool has_disposition = false;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      fail("part " + std::to_string(parts_ + 1) + " has a header line without ':'");
    }
    std::string name = to_lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      has_disposition = true;
      if (to_lower(value.substr(0, 9)) != "form-data") {
        fail("part " + std::to_string(parts_ + 1) + " is not form-data");
      }
      if (!header_param(value, "name", &part.name)) {
        fail("part " + std::to_string(parts_ + 1) + " has no name in its Content-Disposition");
      }
      header_param(value, "filename", &part.filename);
    } else if (name == "content-type") {
      part.content_type = std::string(value);
    }
  }
  if (!has_disposition) {
    fail("part " + std::to_string(parts_ + 1) + " has no Content-Disposition header");
  }
  ++parts_;
  return on_part_(part);
}

bool MultipartParser::feed(const char* data, size_t len) {
  buf_.append(data, len);
  for (;;) {
    switch (state_) {
      case State::kPreamble: {
        // The first boundary may open the body or follow a preamble on its own line.
        if (buf_.size() >= dash_boundary_.size() &&
            buf_.compare(0, dash_boundary_.size(), dash_boundary_) == 0) {
          consumed_ += static_cast<int64_t>(dash_boundary_.size());
          buf_.erase(0, dash_boundary_.size());
          state_ = State::kAfterBoundary;
          continue;
        }
        size_t at = buf_.find(delimiter_);
        if (at != std::string::npos) {
          consumed_ += static_cast<int64_t>(at + delimiter_.size());
          buf_.erase(0, at + delimiter_.size());
          state_ = State::kAfterBoundary;
          continue;
        }
        if (buf_.size() > kMaxPreambleBytes) {
          fail("no opening boundary '" + dash_boundary_ + "' in the first " +
               std::to_string(kMaxPreambleBytes) + " bytes");
        }
        return true;
      }
      case State::kAfterBoundary: {
        // Transport padding (spaces/tabs) may follow a boundary.
        size_t i = 0;
        while (i < buf_.size() && (buf_[i] == ' ' || buf_[i] == '\t')) ++i;
        if (buf_.size() - i < 2) return true;
        if (buf_.compare(i, 2, "--") == 0) {
          state_ = State::kDone;
          buf_.clear();
          return true;
        }
        if (buf_.compare(i, 2, "\r\n") != 0) {
          fail("expected CRLF after the boundary at byte " + std::to_string(consumed_ + i));
        }
        consumed_ += static_cast<int64_t>(i + 2);
        buf_.erase(0, i + 2);
        state_ = State::kHeaders;
        continue;
      }
      case State::kHeaders: {
        // A part with no headers starts straight with CRLF.
        size_t end;
        size_t skip;
        if (buf_.compare(0, 2, "\r\n") == 0) {
          end = 0;
          skip = 2;
        } else {
          end = buf_.find("\r\n\r\n");
          skip = 4;
        }
        if (end == std::string::npos) {
          if (buf_.size() > kMaxPartHeaderBytes) {
            fail("the headers of part " + std::to_string(parts_ + 1) + " are longer than " +
                 std::to_string(kMaxPartHeaderBytes) + " bytes or never end");
          }
          return true;
        }
        std::string block = buf_.substr(0, end);
        consumed_ += static_cast<int64_t>(end + skip);
        buf_.erase(0, end + skip);
        state_ = State::kData;
        if (!parse_headers(block)) return false;
        continue;
      }
      case State::kData: {
        size_t at = buf_.find(delimiter_);
        if (at == std::string::npos) {
          // Keep what could be the start of a delimiter split across pieces.
          size_t keep = std::min(buf_.size(), delimiter_.size() - 1);
          size_t emit = buf_.size() - keep;
          if (emit > 0) {
            if (!on_data_(buf_.data(), emit)) return false;
            consumed_ += static_cast<int64_t>(emit);
            buf_.erase(0, emit);
          }
          return true;
        }
        if (at > 0 && !on_data_(buf_.data(), at)) return false;
        consumed_ += static_cast<int64_t>(at + delimiter_.size());
        buf_.erase(0, at + delimiter_.size());
        state_ = State::kAfterBoundary;
        continue;
      }
      case State::kDone:
        return true;  // the epilogue is ignored
    }
  }
}

void MultipartParser::finish() {
  if (state_ == State::kDone) return;
  if (state_ == State::kPreamble) fail("no boundary '" + dash_boundary_ + "' in the body");
  fail("the body ends (after " + std::to_string(consumed_ + static_cast<int64_t>(buf_.size())) +
       " bytes) before the closing boundary '" + dash_boundary_ + "--'");
}

}  // namespace ej::api::http
