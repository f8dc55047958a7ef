// Request and Response: what a route handler sees of one HTTP exchange. The connection
// (src/api/http/connection.cpp, an I/O thread) fills a Request once its header and body are in;
// the handler fills the Response on a worker thread; the connection then writes it. Neither is
// shared between threads at the same time. The accessor names follow cpp-httplib's, which the
// routes were written against.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ej::api::http {

// ASCII lower-case copy (header names are compared case-insensitively).
std::string to_lower(std::string_view s);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path + query
  std::string path;    // percent-decoded path, without the query
  std::string remote_addr;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::multimap<std::string, std::string> params;            // query string, repeated keys kept
  std::vector<std::string> matches;  // [0] = whole path, [i] = the route regex's i-th group
  std::string body;                  // buffered bodies (JSON routes); empty for streamed ones
  // Names this request in the log, the X-Request-Id response header and error bodies: the
  // client's X-Request-Id when it is 1-64 of [A-Za-z0-9._-], else a new random one.
  std::string request_id;
  // True once the client closed or reset the connection (a non-blocking check of the socket;
  // the handler's worker thread may call it while the request runs). Empty outside a session.
  std::function<bool()> client_gone;

  bool has_header(std::string_view name) const;
  std::string get_header_value(std::string_view name) const;  // "" when absent
  bool has_param(const std::string& key) const;
  std::string get_param_value(const std::string& key, size_t i = 0) const;  // "" when absent
  size_t get_param_value_count(const std::string& key) const;
  bool is_multipart_form_data() const;
};

// An open file to send (whole, or the one byte range the client asked for). Owns the fd.
struct FileSource {
  int fd = -1;
  uint64_t size = 0;
  // When set, the bytes come from here instead of `fd`: up to n bytes at offset into buf; returns
  // how many (<= 0: an error). Called on the connection's strand, one call at a time.
  std::function<int64_t(uint64_t offset, void* buf, size_t n)> read_at;
  FileSource(int fd_, uint64_t size_) : fd(fd_), size(size_) {}
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ~FileSource();
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string body;
  std::shared_ptr<FileSource> file;  // when set, the body is this file (Range applies)

  void set_header(std::string name, std::string value);
  void set_content(std::string body, std::string content_type);
  // Sends the open file `fd` (taken over) of `size` bytes as the body.
  void set_file(int fd, uint64_t size, std::string content_type);
  // Sends `source` (e.g. one reading a blob through FileSource::read_at) as the body.
  void set_file(std::shared_ptr<FileSource> source, std::string content_type);
  std::string get_header_value(std::string_view name) const;
};

// Decodes %XX and, when `plus_is_space`, '+' (query strings). Invalid escapes stay as they are.
std::string percent_decode(std::string_view s, bool plus_is_space);
// Splits "a=1&b=2&a=3" into decoded key/value pairs.
void parse_query(std::string_view query, std::multimap<std::string, std::string>* out);
// A copy safe for a one-line log: control bytes, '\\' and non-ASCII as \xNN; cut at `max_bytes`.
std::string escape_for_log(std::string_view s, size_t max_bytes = 256);

}  // namespace ej::api::http
