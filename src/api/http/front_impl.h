// Front::Impl: state shared by the listener and every Session of one Front (internal to
// src/api/http). Counters are atomics or guarded by ip_mu; the io_context and the pool are
// thread-safe. Members are declared so that the pool stops (and drains) before the io_context
// is destroyed, and the counters outlive both.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/http/front.h"
#include "api/http/worker_pool.h"

namespace ej::api::http {

struct Front::Impl {
  const Router* router;
  const HttpConfig* config;
  std::string spool_dir;
  int64_t max_upload_bytes;

  std::atomic<int> connections{0};
  std::mutex ip_mu;
  std::unordered_map<std::string, int> per_ip;  // open connections per client address
  std::atomic<int64_t> buffered_bytes{0};       // bodies held in memory, all connections

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor;
  WorkerPool pool;

  Impl(const Router* r, const HttpConfig* c, std::string spool, int64_t max_upload)
      : router(r),
        config(c),
        spool_dir(std::move(spool)),
        max_upload_bytes(max_upload),
        ioc(std::max(1, c->io_threads)),
        acceptor(ioc),
        pool(c->threads, static_cast<size_t>(std::max(1, c->max_queued_requests))) {}

  void release_connection(const std::string& ip);
};

// Starts serving one accepted connection (session.cpp).
void start_session(Front::Impl* front, boost::asio::ip::tcp::socket socket, std::string ip);

}  // namespace ej::api::http
