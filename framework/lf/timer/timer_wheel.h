// Public: lf's timer service, a hashed hierarchical timing wheel (Varghese & Lauck, scheme 7) with
// O(1) schedule, cancel and touch. Pure data structure: no fds, no threads. Thread safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace lf {

// A move-only void() callable that stores captures of up to kInlineSize bytes in place, so that
// the usual timer callbacks (a weak_ptr, `this` plus an id, a std::function) cost no allocation;
// std::function allocates for anything that is not trivially copyable. Larger or over-aligned
// callables are boxed on the heap. Not thread safe.
class TimerCallback {
 public:
  static constexpr std::size_t kInlineSize = 40;

  TimerCallback() noexcept = default;
  TimerCallback(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, TimerCallback> &&
           std::is_invocable_v<std::decay_t<F>&>)
      TimerCallback(F&& f) {  // NOLINT(google-explicit-constructor): lambdas convert implicitly
    using D = std::decay_t<F>;
    if constexpr (kFitsInline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
      ops_ = &kOps<D>;
    } else {
      ::new (static_cast<void*>(storage_)) Boxed<D>{std::make_unique<D>(std::forward<F>(f))};
      ops_ = &kOps<Boxed<D>>;
    }
  }

  TimerCallback(TimerCallback&& other) noexcept { take(other); }
  TimerCallback& operator=(TimerCallback&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  TimerCallback(const TimerCallback&) = delete;
  TimerCallback& operator=(const TimerCallback&) = delete;
  ~TimerCallback() { reset(); }

  [[nodiscard]] explicit operator bool() const noexcept { return ops_ != nullptr; }
  // Precondition: not empty.
  void operator()() { ops_->invoke(storage_); }
  void reset() noexcept {
    if (ops_ != nullptr && ops_->destroy != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

 private:
  // relocate and destroy are null for trivially copyable callables: a memcpy moves them.
  struct Ops {
    void (*invoke)(void* self);
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void* self) noexcept;
  };
  template <typename D>
  struct Boxed {
    std::unique_ptr<D> callable;
    void operator()() { (*callable)(); }
  };
  template <typename D>
  static constexpr bool kFitsInline =
      sizeof(D) <= kInlineSize &&
      alignof(D) <= alignof(void*) && std::is_nothrow_move_constructible_v<D>;
  template <typename D>
  static D* as(void* self) noexcept {
    return std::launder(static_cast<D*>(self));
  }
  template <typename D>
  static constexpr bool kTrivial = std::is_trivially_copyable_v<D>;
  template <typename D>
  static constexpr Ops kOps{
      [](void* self) { (*as<D>(self))(); },
      kTrivial<D> ? nullptr
                  : +[](void* from, void* to) noexcept {
                      ::new (to) D(std::move(*as<D>(from)));
                      as<D>(from)->~D();
                    },
      kTrivial<D> ? nullptr : +[](void* self) noexcept { as<D>(self)->~D(); }};

  void take(TimerCallback& other) noexcept {
    ops_ = std::exchange(other.ops_, nullptr);
    if (ops_ == nullptr) return;
    if (ops_->relocate == nullptr) {
      std::memcpy(storage_, other.storage_, kInlineSize);
    } else {
      ops_->relocate(other.storage_, storage_);
    }
  }

  alignas(void*) unsigned char storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

// Names one timer. Cheap to copy and compare; a default TimerId names no timer. A timer's node is
// reused after the timer ends, but with a new generation, so a stale id never reaches the new one.
struct TimerId {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // never 0 for a real timer

  [[nodiscard]] constexpr bool valid() const noexcept { return generation != 0; }
  friend constexpr bool operator==(TimerId, TimerId) noexcept = default;
  friend constexpr auto operator<=>(TimerId, TimerId) noexcept = default;
};

// Why a hierarchy and not one wheel with round counts (scheme 6): with round counts every tick
// walks every timer hashed to its slot, whatever its round, so 1,000,000 idle timeouts over 512
// slots cost ~2,000 node visits per tick, and the earliest deadline can only be found by walking
// all timers. Here level L has `slots` slots of slots^L ticks each; a timer sits in the level of
// the highest bit in which its expiry tick differs from the wheel's position, so a slot holds
// only timers of one span, nothing wraps, a tick visits only the timers due in it (and those that
// touch() postponed), and a timer moves down at most once per level.
// Occupancy bitmaps give next_deadline() and let advance() jump over empty stretches.
//
// Precision is the tick: a timer is due once advance()'s `now` reaches its deadline rounded up to
// the tick grid, so it never fires early and, if advance() is called at next_deadline(), at most
// one tick late. (Firing exactly at the deadline would mean re-reading the next slot on every
// advance(), and timerfd wake-ups are always a little late, so every slot would be read twice.)
// A deadline already passed when the timer is scheduled or touched (a delay <= 0) is due at once:
// it fires at the next advance().
//
// advance() does not run callbacks: it appends small callables that the caller runs outside any
// lock. A timer stays live until its callback starts, so cancel() of a timer that advance() has
// handed out but whose callable has not run yet succeeds and the callable does nothing; touch() of
// such a timer puts it back on the wheel instead. Callbacks may schedule, cancel and touch any
// timer, their own included; a periodic timer cancelled from its own callback does not fire
// again. A periodic timer's callback never overlaps itself: it is put back on the wheel when its
// callback returns, at its next multiple of the interval after the advance() that fired it
// (missed periods are skipped, the phase is kept). Run or drop every appended callable before the
// wheel is destroyed; a callable dropped unrun leaves its timer live until it is cancelled.
//
// Memory: nodes live in chunks of 4,096, reused through a free list, linked into per-slot
// intrusive lists; no allocation per timer once the pool has grown (~88 bytes per live timer).
class TimerWheel {
 public:
  using Clock = std::chrono::steady_clock;
  // Reads the current time; tests pass a synthetic clock. Empty: Clock::now().
  using NowFunction = std::function<Clock::time_point()>;

  // slots (per level) is rounded up to a power of two in [2, 65536]. start is the origin of the
  // tick grid. Throws std::invalid_argument for a tick <= 0.
  explicit TimerWheel(Clock::duration tick = std::chrono::milliseconds(10), std::size_t slots = 512,
                      Clock::time_point start = Clock::now(), NowFunction now = {});
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Each schedules cb and returns its id. Thread safe. Throws std::invalid_argument for an empty
  // cb (or a non-positive interval), std::bad_alloc if the pool cannot grow.
  TimerId run_after(Clock::duration delay, TimerCallback cb);
  // Fires at now + interval, now + 2 * interval, ... until cancelled.
  TimerId run_every(Clock::duration interval, TimerCallback cb);
  // Absolute deadline; reads no clock (a deadline before the last advance() is due at once).
  TimerId run_at(Clock::time_point deadline, TimerCallback cb);

  // Stops the timer. False if it has already started its callback (a one-shot) or was cancelled,
  // or if id is stale. Destroys the callback outside the lock. Thread safe.
  bool cancel(TimerId id);
  // Moves the deadline to now + delay (for a periodic timer: its next firing; later ones follow
  // from it). O(1). False if the timer is gone, as for cancel(). Thread safe. Postponing only
  // rewrites the deadline (one cache line, not the four that relinking touches); advance() moves
  // the timer on when it reaches the old slot.
  bool touch(TimerId id, Clock::duration delay);

  // Moves the wheel to `now` and appends one callable per due timer to `expired`, in deadline
  // order (equal deadlines: scheduling order, where touch() counts as scheduling). The caller
  // runs them, outside any lock. One caller at a time; thread safe against everything else.
  void advance(Clock::time_point now, std::vector<TimerCallback>& expired);

  // Earliest deadline on the wheel, rounded up to the tick, or nullopt when no timer is pending
  // (periodic timers whose callback is pending or running are not on the wheel). Never later than
  // the true one, and exact unless the earliest timer is beyond the first `slots` ticks (then:
  // the start of the first occupied higher-level slot) or was postponed by touch() (then: its old
  // deadline); advance() at such a time fires nothing and the next answer is closer. A time not
  // after the last advance() means some timer is due at once. O(levels * slots / 64).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;
  // The time on the tick grid at or after t: when a timer due at t becomes due. Arm a timerfd
  // there, not at t, or its wake-up finds the tick not reached and needs another one.
  [[nodiscard]] Clock::time_point round_up_to_tick(Clock::time_point t) const noexcept;
  // Live timers: pending, or handed out by advance() and not yet started. Thread safe.
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] Clock::duration tick() const noexcept { return Clock::duration(tick_); }
  [[nodiscard]] std::size_t slots() const noexcept { return slots_; }

 private:
  using Rep = Clock::rep;  // durations in Clock ticks (nanoseconds), relative to start_
  struct Node;
  struct Expiring {
    Rep deadline;
    std::uint64_t seq;
    TimerId id;
  };
  struct Slot {
    std::uint32_t head;
    std::uint32_t tail;
  };
  struct Occupied {
    std::uint32_t level;
    std::uint32_t slot;
    std::uint64_t start_tick;
  };

  [[nodiscard]] Rep now_ns() const;
  // The tick at or after `deadline` (deadline > 0).
  [[nodiscard]] std::uint64_t expiry_tick(Rep deadline) const noexcept;
  TimerId schedule(Rep deadline, Rep interval, Rep due_before, TimerCallback&& cb);
  [[nodiscard]] Node& node(std::uint32_t index) const noexcept;
  [[nodiscard]] bool is_live(TimerId id) const noexcept;
  std::uint32_t allocate();
  void grow();
  void release(std::uint32_t index) noexcept;
  // Puts a node on the due list if its deadline is <= max(due_before, last advance), else in the
  // slot of its expiry tick.
  void insert(std::uint32_t index, Rep due_before) noexcept;
  void place(std::uint32_t index, std::uint64_t expiry) noexcept;
  void link(std::uint32_t index, std::uint32_t list) noexcept;
  void unlink(std::uint32_t index) noexcept;
  [[nodiscard]] std::optional<Occupied> first_occupied() const noexcept;
  void collect(std::uint32_t index);
  // Runs the callback of a timer that advance() handed out, if it is still live.
  void fire(TimerId id);

  const Rep tick_;
  const std::uint32_t slots_;
  const std::uint32_t bits_;  // log2(slots_)
  const std::uint32_t levels_;
  const std::uint32_t words_;     // bitmap words per level
  const std::uint32_t due_list_;  // index of the list of timers due at the next advance()
  const Clock::time_point start_;
  const NowFunction now_;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Node[]>> chunks_;
  std::uint32_t capacity_ = 0;
  std::uint32_t free_ = 0;  // head of the free list
  std::size_t live_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t elapsed_ = 0;  // ticks fully processed: pending timers expire after this tick
  Rep last_now_ = 0;           // greatest `now` given to advance()
  std::vector<Slot> lists_;    // levels_ * slots_ slot lists (level-major), then the due list
  std::vector<std::uint64_t> occupied_;  // one bit per non-empty slot list
  std::uint8_t level_of_bit_[64] = {};
  std::vector<Expiring> expiring_;  // advance()'s scratch space
};

}  // namespace lf
