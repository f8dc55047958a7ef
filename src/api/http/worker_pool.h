// WorkerPool: a fixed set of threads that run blocking request handlers (store, engine) away
// from the I/O threads, with a bounded queue: try_post refuses work when `max_queued` tasks
// already wait, which the connection answers with 503. Any thread may post; stop() joins.
// Threads start in start(), not the constructor, so they inherit the signal mask of the thread
// that serves (main blocks SIGTERM before serving and waits for it on its own thread).
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
  void start();
  bool try_post(std::function<void()> task);
  void stop();

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int thread_count_;
  size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ej::api::http
