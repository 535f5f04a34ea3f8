// Internal (made by make_dispatcher). The Leader/Followers model: one HandleSet shared by the N
// threads of a ThreadSet (lf, lf-et, lf-spin, lf-handoff). The product's own path; the others
// are for comparison.
#pragma once

#include "lf/models/dispatcher.h"
#include "lf/pattern/handle_set.h"
#include "lf/pattern/thread_set.h"

namespace lf {

class LeaderFollowersDispatcher final : public Dispatcher {
 public:
  explicit LeaderFollowersDispatcher(const DispatcherOptions& options)
      : Dispatcher(options.model),
        handle_set_(options.suspension),
        thread_set_(handle_set_, options) {}

  [[nodiscard]] HandleSet& main_handle_set() noexcept override { return handle_set_; }
  void start() override { thread_set_.start(); }
  void stop() override { thread_set_.stop(); }
  void join() override { thread_set_.join(); }
  [[nodiscard]] std::size_t threads() const noexcept override { return thread_set_.base_threads(); }
  [[nodiscard]] bool contains_this_thread() const noexcept override {
    return thread_set_.contains_this_thread();
  }
  [[nodiscard]] ThreadSet* thread_set() noexcept override { return &thread_set_; }

 private:
  HandleSet handle_set_;
  ThreadSet thread_set_;
};

}  // namespace lf
