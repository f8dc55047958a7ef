// MultipartParser: a streaming multipart/form-data parser (RFC 7578). Fed the body in pieces of
// any size; calls on_part at each part's header and on_data with that part's bytes, keeping at
// most one delimiter plus one part-header block buffered (so a file part of any size costs
// O(64 KiB)). A malformed body throws ej::Error(kInvalidArgument) with a message that says
// what is wrong and at which byte. One instance per request; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ej::api::http {

struct MultipartPart {
  std::string name;          // Content-Disposition name=
  std::string filename;      // Content-Disposition filename= ("" when absent)
  std::string content_type;  // the part's Content-Type ("" when absent)
};

// The boundary of a `multipart/form-data; boundary=...` Content-Type; throws 400 when missing.
std::string multipart_boundary(std::string_view content_type);

class MultipartParser {
 public:
  using PartFn = std::function<bool(const MultipartPart&)>;
  using DataFn = std::function<bool(const char*, size_t)>;
  static constexpr size_t kMaxPartHeaderBytes = 16 * 1024;
  static constexpr size_t kMaxPreambleBytes = 64 * 1024;

  MultipartParser(std::string boundary, PartFn on_part, DataFn on_data);
  // Feeds the next piece of the body. false when a callback returned false (parsing stops).
  bool feed(const char* data, size_t len);
  // The body ended: throws 400 unless the closing boundary was seen.
  void finish();
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kPreamble, kAfterBoundary, kHeaders, kData, kDone };
  [[noreturn]] void fail(const std::string& what) const;
  bool parse_headers(std::string_view block);

  std::string dash_boundary_;  // "--" + boundary
  std::string delimiter_;      // "\r\n--" + boundary
  PartFn on_part_;
  DataFn on_data_;
  State state_ = State::kPreamble;
  std::string buf_;
  int64_t consumed_ = 0;  // body bytes before buf_[0], for error positions
  int parts_ = 0;
};

}  // namespace ej::api::http
