#include "api/http/front.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <thread>
#include <vector>

#include "api/http/front_impl.h"
#include "common/error.h"
#include "common/log.h"

namespace ej::api::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

const char kRefused[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    "Connection: close\r\nContent-Length: 62\r\n\r\n"
    "{\"message\":\"too many connections from this address, retry\"}\n";

void do_accept(Front::Impl* f);

void on_accept(Front::Impl* f, tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // no delayed-ACK stalls on keep-alive
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;
  std::string ip = peer.address().to_string();
  bool ok = false;
  if (f->connections.fetch_add(1) < f->config->max_connections) {
    std::lock_guard<std::mutex> lock(f->ip_mu);
    int& n = f->per_ip[ip];
    if (n < f->config->max_connections_per_ip) {
      ++n;
      ok = true;
    } else if (n == 0) {
      f->per_ip.erase(ip);
    }
  }
  if (!ok) {
    f->connections.fetch_sub(1);
    // Best effort: a short answer that fits in the socket buffer, then close.
    socket.non_blocking(true, ec);
    net::write(socket, net::buffer(kRefused, sizeof(kRefused) - 1), ec);
    socket.close(ec);
    return;
  }
  start_session(f, std::move(socket), std::move(ip));
}

void do_accept(Front::Impl* f) {
  f->acceptor.async_accept(
      net::make_strand(f->ioc), [f](boost::system::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !f->acceptor.is_open()) return;
        if (ec) {
          // Out of descriptors and the like: back off instead of spinning.
          log_warn("accept: " + ec.message());
          auto timer = std::make_shared<net::steady_timer>(f->ioc, std::chrono::milliseconds(100));
          timer->async_wait([f, timer](boost::system::error_code) { do_accept(f); });
          return;
        }
        on_accept(f, std::move(socket));
        do_accept(f);
      });
}

}  // namespace

void Front::Impl::release_connection(const std::string& ip) {
  {
    std::lock_guard<std::mutex> lock(ip_mu);
    auto it = per_ip.find(ip);
    if (it != per_ip.end() && --it->second <= 0) per_ip.erase(it);
  }
  connections.fetch_sub(1);
}

Front::Front(const Router* router, const HttpConfig* config, std::string spool_dir,
             int64_t max_upload_bytes)
    : impl_(std::make_unique<Impl>(router, config, std::move(spool_dir), max_upload_bytes)) {
  std::filesystem::create_directories(impl_->spool_dir);
  // Bodies spooled by a process that died are of no use to anyone. Older versions named them
  // body-*.spool; now they carry their process and go with remove_abandoned_temp_files, so a
  // process starting on a shared data dir leaves the bodies live processes are receiving.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(impl_->spool_dir, ec)) {
    if (e.path().extension() == ".spool") std::filesystem::remove(e.path(), ec);
  }
}

Front::~Front() {
  stop();
  impl_->pool.stop();
}

int Front::bind() {
  const HttpConfig& cfg = *impl_->config;
  boost::system::error_code ec;
  auto address = net::ip::make_address(cfg.host == "localhost" ? "127.0.0.1" : cfg.host, ec);
  if (ec) throw Error(ErrorCode::kInternal, "cannot listen on " + cfg.host + ": not an address");
  tcp::endpoint ep(address, static_cast<unsigned short>(cfg.port));
  tcp::acceptor& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorCode::kInternal, "cannot listen on " + cfg.host + ":" +
                                          std::to_string(cfg.port) + " (" + ec.message() + ")");
  }
  return a.local_endpoint().port();
}

void Front::serve() {
  impl_->pool.start();
  do_accept(impl_.get());
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, impl_->config->io_threads); ++i) {
    threads.emplace_back([this] { impl_->ioc.run(); });
  }
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  impl_->pool
      .stop();  // handlers in flight finish before serve() returns (their answers do not go out)
}

void Front::stop() {
  net::post(impl_->ioc, [f = impl_.get()] {
    boost::system::error_code ec;
    f->acceptor.close(ec);
  });
  impl_->ioc.stop();
}

}  // namespace ej::api::http
