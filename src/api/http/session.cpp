// Session: one client connection, driven by Asio completions on the connection's strand (an
// I/O thread). Reads a request's header and body with the limits of HttpConfig checked as the
// bytes arrive, hands the complete request to a worker, and writes the response back. Between
// posting to the worker and the worker posting back, no operation is pending on the socket, so
// the worker owns req_/res_ alone.
#include <poll.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/http/file_range_body.h"
#include "api/http/front_impl.h"
#include "api/http/range.h"
#include "api/router.h"
#include "common/clock.h"
#include "common/durable_file.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/storage_error.h"

namespace ej::api::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kPreAuthBodyBytes = 64 * 1024;  // larger bodies wait for the key check
constexpr int64_t kMaxDrainBytes = 64LL << 20;    // unread body read off before closing
constexpr int kDrainTimeoutS = 10;

// The client's X-Request-Id when it is safe to log and echo (1-64 of [A-Za-z0-9._-]), else a
// new random one.
std::string usable_request_id(const std::string& given) {
  if (given.empty() || given.size() > 64) return random_alnum(16);
  for (char c : given) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return random_alnum(16);
    }
  }
  return given;
}

// A spool write that failed because the data dir's disk is full or read-only: a 507 that says
// which, not a reset. nullptr for any other error.
const char* storage_full(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category() &&
      ec.category() != boost::system::generic_category()) {
    return nullptr;
  }
  return service::storage_problem(ec.value());
}
std::string storage_full_message(const char* problem) {
  return service::storage_message(problem, "storing the upload (it was not stored)");
}

// Whether the peer of `fd` has closed (FIN: POLLRDHUP) or reset (POLLHUP / POLLERR) the
// connection; does not read. Called from the worker thread while no operation is pending on
// the socket (the session is idle between dispatch() and write_response()).
bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Front::Impl* f, net::ip::tcp::socket socket, std::string ip)
      : f_(f), cfg_(*f->config), stream_(std::move(socket)), ip_(std::move(ip)) {}
  ~Session() {
    release_buffered();
    remove_spool();
    f_->release_connection(ip_);
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->begin_request(); });
  }

 private:
  // ---- reading the header --------------------------------------------------------------
  void begin_request() {
    req_ = Request();
    res_ = Response();
    route_ = nullptr;
    owner_.clear();
    authed_ = false;
    close_after_ = false;
    body_read_ = false;
    got_bytes_ = buffer_.size() > 0;
    release_buffered();
    remove_spool();
    sparser_.reset();
    fparser_.reset();
    hparser_.emplace();
    hparser_->header_limit(static_cast<uint32_t>(cfg_.max_header_bytes));
    hparser_->body_limit(boost::none);  // checked per route once the header is in
    deadline_ = Clock::now() + std::chrono::seconds(cfg_.header_timeout_s);
    read_header();
  }

  void read_header() {
    Clock::time_point expiry;
    if (got_bytes_) {
      expiry = std::min(deadline_, Clock::now() + std::chrono::seconds(cfg_.idle_timeout_s));
    } else {  // waiting for the first byte of a request: the keep-alive wait
      expiry = Clock::now() +
               std::chrono::seconds(requests_ == 0 ? cfg_.header_timeout_s : cfg_.keep_alive_s);
    }
    stream_.expires_at(expiry);
    bhttp::async_read_some(stream_, buffer_, *hparser_,
                           [self = shared_from_this()](beast::error_code ec, size_t n) {
                             self->on_header_bytes(ec, n);
                           });
  }

  void on_header_bytes(beast::error_code ec, size_t n) {
    if (ec == bhttp::error::header_limit) {
      return fail(431, "request header too large: the request line and headers must fit in " +
                           std::to_string(cfg_.max_header_bytes) + " bytes");
    }
    // A deadline closes the socket (Beast's timeout does): a client too slow to send its
    // header is not going to read an answer either.
    if (ec == beast::error::timeout) return close();
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return close();
    }
    if (ec) return fail(400, std::string("malformed request: ") + ec.message());
    if (!got_bytes_ && n > 0) {
      got_bytes_ = true;
      deadline_ = Clock::now() + std::chrono::seconds(cfg_.header_timeout_s);
    }
    if (!hparser_->is_header_done()) return read_header();
    on_header();
  }

  void on_header() {
    ++requests_;
    start_us_ = now_us();
    const auto& h = hparser_->get();
    req_.method = std::string(h.method_string());
    req_.target = std::string(h.target());
    req_.remote_addr = ip_;
    req_.request_id = usable_request_id(std::string(h["X-Request-Id"]));
    keep_alive_ = h.keep_alive();
    if (req_.target.size() > static_cast<size_t>(cfg_.max_target_bytes)) {
      return fail(414, "request target too long: the limit is " +
                           std::to_string(cfg_.max_target_bytes) + " bytes");
    }
    size_t q = req_.target.find('?');
    req_.path = percent_decode(std::string_view(req_.target).substr(0, q), false);
    if (q != std::string::npos)
      parse_query(std::string_view(req_.target).substr(q + 1), &req_.params);
    int count = 0;
    for (const auto& field : h) {
      if (++count > cfg_.max_headers) {
        return fail(431,
                    "too many request headers: the limit is " + std::to_string(cfg_.max_headers));
      }
      req_.headers.emplace_back(to_lower(field.name_string()), std::string(field.value()));
    }
    std::string encoding = to_lower(req_.get_header_value("Content-Encoding"));
    if (!encoding.empty() && encoding != "identity") {
      return fail(415, "compressed request bodies are not accepted (Content-Encoding: " +
                           escape_for_log(encoding, 64) + "): send the body uncompressed");
    }
    bool path_known = false;
    route_ = f_->router->match(&req_, &path_known);
    if (!route_) {
      // A request without a body leaves the connection usable.
      if (hparser_->is_done()) body_read_ = keep_after_fail_ = true;
      return fail(path_known ? 405 : 404,
                  (path_known ? "method not allowed: " : "unknown endpoint: ") + req_.method + " " +
                      escape_for_log(req_.path));
    }
    const bool has_body = !hparser_->is_done();
    const auto length = hparser_->content_length();  // none when chunked
    body_limit_ = route_->stream()        ? f_->max_upload_bytes + (1 << 20)
                  : req_.method == "POST" ? cfg_.max_json_bytes
                                          : cfg_.max_small_body_bytes;
    if (length && static_cast<int64_t>(*length) > body_limit_) {
      return fail(413, too_large_message(static_cast<int64_t>(*length)));
    }
    const bool auth_first =
        has_body && route_->auth && !f_->router->config().no_auth &&
        (route_->stream() || !length || static_cast<int64_t>(*length) > kPreAuthBodyBytes);
    if (!auth_first) return continue_body();
    // Check the key on a worker before accepting a large or open-ended body.
    auto self = shared_from_this();
    bool posted = f_->pool.try_post([self] {
      bool ok =
          self->f_->router->authenticate(*self->route_, self->req_, self->res_, &self->owner_);
      net::post(self->stream_.get_executor(), [self, ok] {
        self->authed_ = ok;
        if (!ok) {
          self->close_after_ = true;
          return self->write_response();
        }
        self->continue_body();
      });
    });
    if (!posted) busy();
  }

  std::string too_large_message(int64_t bytes) const {
    if (route_ && route_->stream()) {
      return "dataset too large: the limit is " + std::to_string(f_->max_upload_bytes) + " bytes";
    }
    return "request body too large: " + (bytes >= 0 ? std::to_string(bytes) + " bytes, " : "") +
           "the limit is " + std::to_string(body_limit_) + " bytes";
  }

  // ---- reading the body -------------------------------------------------------------------
  void continue_body() {
    if (hparser_->is_done()) {
      body_read_ = true;
      return dispatch();
    }
    if (to_lower(req_.get_header_value("Expect")) == "100-continue") {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       hparser_->get().version());
      stream_.expires_after(std::chrono::seconds(cfg_.idle_timeout_s));
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                           if (ec) return self->close();
                           self->start_body();
                         });
      return;
    }
    start_body();
  }

  void start_body() {
    if (route_->stream()) {
      // Named after this process (unique_tmp_path): processes sharing the data dir remove only
      // the spooled bodies of processes that are gone (remove_abandoned_temp_files).
      spool_path_ = unique_tmp_path(f_->spool_dir + "/body-" + random_alnum(16) + ".spool");
      fparser_.emplace(std::move(*hparser_));
      fparser_->body_limit(static_cast<uint64_t>(body_limit_));
      beast::error_code ec;
      fparser_->get().body().open(spool_path_.c_str(), beast::file_mode::write, ec);
      if (ec) {
        log_error("cannot create " + spool_path_ + ": " + ec.message());
        spool_path_.clear();
        if (const char* p = storage_full(ec)) return fail(507, storage_full_message(p));
        return fail(500, "internal error: cannot store the upload");
      }
      deadline_ = Clock::now() + std::chrono::seconds(cfg_.upload_timeout_s);
    } else {
      sparser_.emplace(std::move(*hparser_));
      sparser_->body_limit(static_cast<uint64_t>(body_limit_));
      deadline_ = Clock::now() + std::chrono::seconds(cfg_.request_timeout_s);
    }
    hparser_.reset();
    read_body();
  }

  void read_body() {
    stream_.expires_at(
        std::min(deadline_, Clock::now() + std::chrono::seconds(cfg_.idle_timeout_s)));
    auto cb = [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_body_bytes(ec);
    };
    if (fparser_) {
      bhttp::async_read_some(stream_, buffer_, *fparser_, std::move(cb));
    } else {
      bhttp::async_read_some(stream_, buffer_, *sparser_, std::move(cb));
    }
  }

  void on_body_bytes(beast::error_code ec) {
    if (sparser_) {
      // Account for the bytes held in memory, across all connections.
      int64_t held = static_cast<int64_t>(sparser_->get().body().size());
      f_->buffered_bytes.fetch_add(held - buffered_);
      buffered_ = held;
      if (f_->buffered_bytes.load() > cfg_.max_buffered_bytes) {
        release_buffered();
        sparser_.reset();
        return fail(503, "server busy: too many request bodies in flight, retry shortly");
      }
    }
    if (ec == bhttp::error::body_limit) return fail(413, too_large_message(-1));
    if (ec == beast::error::timeout) return close();
    if (const char* p = fparser_ ? storage_full(ec) : nullptr) {
      log_warn("upload spool " + spool_path_ + ": " + ec.message());
      fparser_.reset();
      remove_spool();  // the partial body goes before the answer
      return fail(507, storage_full_message(p));
    }
    if (ec) return close();
    bool done = fparser_ ? fparser_->is_done() : sparser_->is_done();
    if (!done) return read_body();
    body_read_ = true;
    if (fparser_) {
      beast::error_code ignored;
      fparser_->get().body().file().close(ignored);
    } else {
      req_.body = std::move(sparser_->get().body());
    }
    dispatch();
  }

  // ---- running the handler ----------------------------------------------------------------
  void dispatch() {
    auto self = shared_from_this();
    req_.client_gone = [fd = stream_.socket().native_handle()] { return peer_closed(fd); };
    bool posted = f_->pool.try_post([self] {
      if (self->authed_ ||
          self->f_->router->authenticate(*self->route_, self->req_, self->res_, &self->owner_)) {
        std::optional<ContentReader> reader;
        if (self->route_->stream()) {
          reader.emplace(self->spool_path_, self->req_.get_header_value("Content-Type"));
        }
        self->f_->router->handle(*self->route_, self->req_, self->res_, self->owner_,
                                 reader ? &*reader : nullptr);
      }
      net::post(self->stream_.get_executor(), [self] { self->write_response(); });
    });
    if (!posted) busy();
  }

  void busy() {
    fail(503, "server busy: all " + std::to_string(cfg_.threads) + " workers busy and " +
                  std::to_string(cfg_.max_queued_requests) + " requests queued, retry shortly");
  }

  // ---- writing the response ---------------------------------------------------------------
  // Answers with an error and closes the connection (the request cannot be trusted further).
  void fail(int status, const std::string& message) {
    res_ = Response();
    Router::send_error(res_, status, message);
    close_after_ = !keep_after_fail_;
    keep_after_fail_ = false;
    if (start_us_ == 0) start_us_ = now_us();
    write_response();
  }

  void write_response() {
    release_buffered();
    if (!keep_alive_ || to_lower(res_.get_header_value("Connection")) == "close") {
      close_after_ = true;
    }
    if (!body_read_) close_after_ = true;  // the unread body must not be parsed as a request
    tag_with_request_id();
    log_request();
    if (res_.file) return write_file();
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(res_.status), 11);
    fill_headers(*msg);
    if (!res_.content_type.empty()) msg->set(bhttp::field::content_type, res_.content_type);
    msg->body() = std::move(res_.body);
    msg->prepare_payload();
    write_message(msg);
  }

  void write_file() {
    RangeResult range{RangeResult::kWhole, 0, res_.file->size};
    if (res_.status == 200) range = resolve_range(req_.get_header_value("Range"), res_.file->size);
    auto msg = std::make_shared<bhttp::response<FileRangeBody>>(bhttp::status::ok, 11);
    fill_headers(*msg);
    msg->set(bhttp::field::accept_ranges, "bytes");
    msg->set(bhttp::field::content_type, res_.content_type);
    const std::string total = std::to_string(res_.file->size);
    if (range.kind == RangeResult::kUnsatisfiable) {
      msg->result(bhttp::status::range_not_satisfiable);
      msg->set(bhttp::field::content_range, "bytes */" + total);
      range.length = 0;
    } else if (range.kind == RangeResult::kPartial) {
      msg->result(bhttp::status::partial_content);
      msg->set(bhttp::field::content_range, "bytes " + std::to_string(range.offset) + "-" +
                                                std::to_string(range.offset + range.length - 1) +
                                                "/" + total);
    }
    msg->body().file = res_.file;
    msg->body().offset = range.offset;
    msg->body().length = range.length;
    msg->prepare_payload();
    res_.file.reset();
    write_message(msg);
  }

  template <typename Message>
  void fill_headers(Message& msg) {
    for (const auto& [k, v] : res_.headers) {
      if (to_lower(k) != "connection") msg.set(k, v);
    }
    msg.keep_alive(!close_after_);
  }

  template <typename Body>
  void write_message(std::shared_ptr<bhttp::response<Body>> msg) {
    auto sr = std::make_shared<bhttp::response_serializer<Body>>(*msg);
    write_some(std::move(msg), std::move(sr));
  }

  // Writes piece by piece so the idle timeout (not a total deadline) applies to slow readers.
  template <typename Body>
  void write_some(std::shared_ptr<bhttp::response<Body>> msg,
                  std::shared_ptr<bhttp::response_serializer<Body>> sr) {
    stream_.expires_after(std::chrono::seconds(cfg_.idle_timeout_s));
    auto& serializer = *sr;
    bhttp::async_write_some(stream_, serializer,
                            [self = shared_from_this(), msg = std::move(msg), sr = std::move(sr)](
                                beast::error_code ec, size_t) mutable {
                              if (ec) return self->close();
                              if (!sr->is_done())
                                return self->write_some(std::move(msg), std::move(sr));
                              self->after_write();
                            });
  }

  void after_write() {
    if (!close_after_) return begin_request();
    if (!body_read_) return drain();
    close();
  }

  // Reads off (up to kMaxDrainBytes, for kDrainTimeoutS) a body we answered without reading,
  // so the client, still sending, gets the answer instead of a reset connection.
  void drain() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    drain_deadline_ = Clock::now() + std::chrono::seconds(kDrainTimeoutS);
    drain_some();
  }

  void drain_some() {
    stream_.expires_at(drain_deadline_);
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += static_cast<int64_t>(n);
                              if (ec || self->drained_ > kMaxDrainBytes) return self->close();
                              self->drain_some();
                            });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // X-Request-Id on every response, and "request_id" in every JSON error body, so that a user's
  // report leads to the log line.
  void tag_with_request_id() {
    if (req_.request_id.empty()) req_.request_id = random_alnum(16);  // failed before a header
    res_.set_header("X-Request-Id", req_.request_id);
    if (res_.status < 400 || res_.file || res_.content_type != "application/json") return;
    nlohmann::json body = nlohmann::json::parse(res_.body, nullptr, false);
    if (!body.is_object() || body.contains("request_id")) return;
    body["request_id"] = req_.request_id;
    res_.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  void log_request() {
    int64_t duration_us = now_us() - start_us_;
    std::string client = escape_for_log(req_.get_header_value("X-Client-Name"), 64);
    std::string method = escape_for_log(req_.method, 16);
    std::string path = escape_for_log(req_.path);
    std::string status = std::to_string(res_.status);
    std::string ms = std::to_string(duration_us / 1000);
    // A refused request is logged with its reason: the message its error body carries.
    std::string reason;
    if (res_.status >= 400 && !res_.file && res_.content_type == "application/json") {
      nlohmann::json body = nlohmann::json::parse(res_.body, nullptr, false);
      if (body.is_object()) {
        const nlohmann::json* m = body.contains("message") ? &body["message"] : nullptr;
        if (!m && body.contains("error") && body["error"].is_object()) {
          m = body["error"].contains("message") ? &body["error"]["message"] : nullptr;
        }
        if (m && m->is_string()) reason = escape_for_log(m->get<std::string>(), 300);
      }
    }
    std::string line = method + " " + path + " " + status + " " + ms + "ms";
    if (!client.empty()) line += " client=" + client;
    if (!reason.empty()) line += ": " + reason;
    log_info(line, {{"request_id", req_.request_id},
                    {"method", method},
                    {"path", path},
                    {"status", status},
                    {"ms", ms}});
    f_->router->metrics().observe_request(route_ ? readable_route(route_->pattern) : "unmatched",
                                          method, res_.status, duration_us);
    start_us_ = 0;
  }

  void release_buffered() {
    if (buffered_ != 0) f_->buffered_bytes.fetch_sub(buffered_);
    buffered_ = 0;
  }

  void remove_spool() {
    if (!spool_path_.empty()) ::unlink(spool_path_.c_str());
    spool_path_.clear();
  }

  Front::Impl* f_;
  const HttpConfig& cfg_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string ip_;

  std::optional<bhttp::request_parser<bhttp::empty_body>> hparser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> sparser_;
  std::optional<bhttp::request_parser<bhttp::file_body>> fparser_;
  Request req_;
  Response res_;
  const Router::Route* route_ = nullptr;
  std::string owner_;
  bool authed_ = false;
  std::string spool_path_;
  int64_t body_limit_ = 0;
  int64_t buffered_ = 0;  // this request's share of Front::Impl::buffered_bytes
  int64_t drained_ = 0;
  int64_t requests_ = 0;
  int64_t start_us_ = 0;
  bool got_bytes_ = false;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool keep_after_fail_ = false;  // the next fail() may keep the connection (no body pending)
  bool body_read_ = false;
  Clock::time_point deadline_;
  Clock::time_point drain_deadline_;
};

}  // namespace

void start_session(Front::Impl* front, net::ip::tcp::socket socket, std::string ip) {
  std::make_shared<Session>(front, std::move(socket), std::move(ip))->start();
}

}  // namespace ej::api::http
