// WorkerPool: a fixed set of threads that run blocking request handlers (store, engine) away
// from the I/O threads, with a bounded queue: try_post refuses work when `max_queued` tasks
// already wait, which the connection answers with 503. Any thread may post; stop() joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ej::api::http {

class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queued);
  ~WorkerPool();
  bool try_post(std::function<void()> task);
  void stop();

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ej::api::http
