// Public. HandlerQueue: a FIFO of handlers waiting for a thread, which keeps its storage so that a
// steady flow of events allocates nothing (a std::deque allocates and frees a block every few
// dozen entries). Not thread safe: the ready list's owner locks around it.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace lf {

class EventHandler;

class HandlerQueue {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }

  void push(EventHandler* handler) {
    if (head_ >= kCompactAt && head_ * 2 >= items_.size()) compact();
    items_.push_back(handler);
  }

  // The oldest entry; the queue must not be empty.
  [[nodiscard]] EventHandler* pop() noexcept {
    EventHandler* handler = items_[head_++];
    if (head_ == items_.size()) {
      items_.clear();  // keeps the capacity
      head_ = 0;
    }
    return handler;
  }

  void clear() noexcept {
    items_.clear();
    head_ = 0;
  }

 private:
  // A queue that never runs empty (a saturated worker pool) drops its consumed front now and
  // then, so the storage stays about twice the longest backlog.
  static constexpr std::size_t kCompactAt = 64;
  void compact() {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  std::vector<EventHandler*> items_;
  std::size_t head_ = 0;  // items_[0, head_) were popped
};

}  // namespace lf
