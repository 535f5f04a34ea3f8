// Internal (made by make_dispatcher). Half-sync/half-async (hsha): one I/O thread waits on the
// HandleSet and queues every ready handler; N worker threads take handlers from the queue and
// process them. A queued or running handler stays scheduled (EventHandler's state word), so it is
// queued once and never processed by two workers at once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lf/models/dispatcher.h"
#include "lf/pattern/handle_set.h"
#include "lf/pattern/handler_queue.h"

namespace lf {

class HalfSyncHalfAsyncDispatcher final : public Dispatcher {
 public:
  HalfSyncHalfAsyncDispatcher(std::size_t workers, Suspension suspension);
  ~HalfSyncHalfAsyncDispatcher() override;  // stops and joins

  [[nodiscard]] HandleSet& main_handle_set() noexcept override { return handle_set_; }
  void start() override;
  void stop() override;
  void join() override;
  [[nodiscard]] std::size_t threads() const noexcept override { return 1 + worker_count_; }
  [[nodiscard]] bool contains_this_thread() const noexcept override;

 private:
  void io_main();
  void worker_main();
  void enqueue(HandleSet::ReadyList& batch);

  HandleSet handle_set_;
  std::size_t worker_count_;
  std::thread io_thread_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;
  std::condition_variable ready_;
  HandlerQueue queue_;  // guarded by mutex_
  bool stopping_ = false;                            // guarded by mutex_
};

}  // namespace lf
