// ContentReader: how a streaming route (the dataset upload) reads its request body. The
// connection has already spooled the body to a file as it arrived (no thread waits on a slow
// uploader); the handler, on a worker thread, reads it back from there, either as
// multipart/form-data parts or as raw bytes. Callbacks returning false stop the read (the
// call then returns false). A malformed multipart body throws a 400.
#pragma once

#include <functional>
#include <string>

#include "api/http/multipart.h"

namespace ej::api::http {

class ContentReader {
 public:
  using PartFn = MultipartParser::PartFn;
  using DataFn = MultipartParser::DataFn;
  ContentReader(std::string spool_path, std::string content_type)
      : spool_path_(std::move(spool_path)), content_type_(std::move(content_type)) {}
  bool operator()(PartFn on_part, DataFn on_data) const;  // multipart/form-data
  bool operator()(DataFn on_data) const;                  // the raw body

 private:
  std::string spool_path_;
  std::string content_type_;
};

}  // namespace ej::api::http
