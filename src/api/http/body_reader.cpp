#include "api/http/body_reader.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "common/error.h"

namespace ej::api::http {

namespace {
template <typename Fn>
bool read_file(const std::string& path, Fn&& fn) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(ErrorCode::kInternal, "cannot reopen the spooled body " + path);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0 && !fn(buf.data(), n)) return false;
    if (n < buf.size()) {
      if (std::ferror(f.get())) throw Error(ErrorCode::kInternal, "cannot read " + path);
      return true;
    }
  }
}
}  // namespace

bool ContentReader::operator()(PartFn on_part, DataFn on_data) const {
  MultipartParser parser(multipart_boundary(content_type_), std::move(on_part), std::move(on_data));
  bool ok = read_file(spool_path_,
                      [&](const char* p, size_t n) { return parser.feed(p, n) && !parser.done(); });
  if (!ok && !parser.done()) return false;
  parser.finish();
  return true;
}

bool ContentReader::operator()(DataFn on_data) const {
  return read_file(spool_path_, on_data);
}

}  // namespace ej::api::http
