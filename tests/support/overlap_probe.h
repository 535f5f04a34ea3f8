// Test support: proving that a handle is never processed by two threads at once. A handler under
// test puts an OverlapProbe::Inside at the top of every hook (and timer callback); the probe
// counts every time a thread enters while another thread is already inside.
#pragma once

#include <atomic>

namespace lf::test {

class OverlapProbe {
 public:
  // overlaps: where to count, usually a test's shared stats that outlive the handler.
  explicit OverlapProbe(std::atomic<int>& overlaps) : overlaps_(overlaps) {}
  OverlapProbe(const OverlapProbe&) = delete;
  OverlapProbe& operator=(const OverlapProbe&) = delete;

  // Marks one hook's run. A hook may run inside another on the same thread (a send() that
  // completes the output, a callback's force_close() that runs on_close): that is not a second
  // thread, and is not counted.
  class Inside {
   public:
    explicit Inside(OverlapProbe& probe) : probe_(probe), nested_(t_inside == &probe) {
      if (nested_) return;
      t_inside = &probe;
      if (probe_.inside_.fetch_add(1) != 0) probe_.overlaps_.fetch_add(1);
    }
    ~Inside() {
      if (nested_) return;
      t_inside = nullptr;
      probe_.inside_.fetch_sub(1);
    }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;

   private:
    static inline thread_local const OverlapProbe* t_inside = nullptr;
    OverlapProbe& probe_;
    const bool nested_;
  };

 private:
  std::atomic<int>& overlaps_;
  std::atomic<int> inside_{0};
};

}  // namespace lf::test
