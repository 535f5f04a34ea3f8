#include "lf/timer/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>

namespace lf {

namespace {

using Rep = TimerWheel::Clock::rep;

constexpr Rep kRepMax = std::numeric_limits<Rep>::max();
constexpr Rep kRepMin = std::numeric_limits<Rep>::min();

constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();
// Node::where for nodes on no list.
constexpr std::uint32_t kFree = kNil;
constexpr std::uint32_t kFired = kNil - 1;    // handed out by advance(), callback not started
constexpr std::uint32_t kRunning = kNil - 2;  // periodic, callback running (moved out of the node)

// Chunks keep nodes in place as the pool grows: growing never moves a million callbacks while
// holding the lock.
constexpr std::uint32_t kChunkBits = 12;
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
constexpr std::uint32_t kMaxNodes = kNil - (kNil % kChunkSize);

constexpr std::size_t kMaxSlots = 1u << 16;

Rep saturating_add(Rep a, Rep b) noexcept {
  Rep sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kRepMax : kRepMin;
  return sum;
}

// The first `fired + k * interval` (k >= 1) after now: missed periods are skipped, the phase kept.
Rep next_period(Rep fired, Rep interval, Rep now) noexcept {
  Rep behind = 0;
  if (fired >= now || __builtin_sub_overflow(now, fired, &behind)) behind = 0;
  Rep step = 0;
  if (__builtin_mul_overflow(behind / interval + 1, interval, &step)) return kRepMax;
  return saturating_add(fired, step);
}

}  // namespace

struct TimerWheel::Node {
  std::uint32_t prev = kNil;
  std::uint32_t next = kNil;
  std::uint32_t generation = 1;  // bumped when the node is freed; never 0
  std::uint32_t where = kFree;   // index of the list holding the node, or kFree/kFired/kRunning
  Rep deadline = 0;
  Rep interval = 0;        // 0: one-shot
  std::uint64_t seq = 0;   // scheduling order, to break deadline ties
  TimerCallback callback;  // empty while free or running
};

TimerWheel::TimerWheel(Clock::duration tick, std::size_t slots, Clock::time_point start,
                       NowFunction now)
    : tick_(tick.count()),
      slots_(
          static_cast<std::uint32_t>(std::bit_ceil(std::clamp<std::size_t>(slots, 2, kMaxSlots)))),
      bits_(static_cast<std::uint32_t>(std::countr_zero(slots_))),
      // Expiry ticks stay below 2^63, so the highest bit in which one differs from elapsed_ is 62.
      levels_(62 / bits_ + 1),
      words_(std::max<std::uint32_t>(1, slots_ / 64)),
      due_list_(levels_ * slots_),
      start_(start),
      now_(std::move(now)),
      free_(kNil),
      lists_(std::size_t{due_list_} + 1, Slot{kNil, kNil}),
      occupied_(std::size_t{levels_} * words_, 0) {
  if (tick_ <= 0) throw std::invalid_argument("lf::TimerWheel: tick must be positive");
  for (std::uint32_t bit = 0; bit < 64; ++bit) {
    level_of_bit_[bit] = static_cast<std::uint8_t>(std::min(bit / bits_, levels_ - 1));
  }
}

TimerWheel::~TimerWheel() = default;

// The node pool and the slot lists; the lock is held. Defined ahead of their callers, so that the
// compiler can inline them: they are the whole of the work of schedule, cancel and touch.

inline std::uint64_t TimerWheel::expiry_tick(Rep deadline) const noexcept {
  return static_cast<std::uint64_t>(deadline / tick_ + (deadline % tick_ != 0));
}

inline TimerWheel::Node& TimerWheel::node(std::uint32_t index) const noexcept {
  return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
}

inline bool TimerWheel::is_live(TimerId id) const noexcept {
  if (id.index >= capacity_) return false;
  const Node& n = node(id.index);
  return n.generation == id.generation && n.where != kFree;
}

inline std::uint32_t TimerWheel::allocate() {
  if (free_ == kNil) grow();
  const std::uint32_t index = free_;
  free_ = node(index).next;
  return index;
}

void TimerWheel::grow() {
  if (capacity_ >= kMaxNodes) throw std::length_error("lf::TimerWheel: too many timers");
  chunks_.push_back(std::make_unique<Node[]>(kChunkSize));
  for (std::uint32_t i = kChunkSize; i-- > 0;) {
    chunks_.back()[i].next = free_;
    free_ = capacity_ + i;
  }
  capacity_ += kChunkSize;
}

inline void TimerWheel::release(std::uint32_t index) noexcept {
  Node& n = node(index);
  n.where = kFree;
  if (++n.generation == 0) n.generation = 1;
  n.next = free_;
  free_ = index;
  --live_;
}

inline void TimerWheel::link(std::uint32_t index, std::uint32_t list) noexcept {
  Node& n = node(index);
  Slot& l = lists_[list];
  n.where = list;
  n.next = kNil;
  n.prev = l.tail;
  if (l.tail == kNil) {
    l.head = index;
    if (list < due_list_) {
      const std::uint32_t slot = list & (slots_ - 1);
      occupied_[(list >> bits_) * words_ + slot / 64] |= std::uint64_t{1} << (slot % 64);
    }
  } else {
    node(l.tail).next = index;
  }
  l.tail = index;
}

inline void TimerWheel::unlink(std::uint32_t index) noexcept {
  Node& n = node(index);
  Slot& l = lists_[n.where];
  if (n.prev == kNil) {
    l.head = n.next;
  } else {
    node(n.prev).next = n.next;
  }
  if (n.next == kNil) {
    l.tail = n.prev;
  } else {
    node(n.next).prev = n.prev;
  }
  if (l.head == kNil && n.where < due_list_) {
    const std::uint32_t slot = n.where & (slots_ - 1);
    occupied_[(n.where >> bits_) * words_ + slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
  }
  n.where = kFree;
}

inline void TimerWheel::place(std::uint32_t index, std::uint64_t expiry) noexcept {
  // The level is that of the highest bit in which expiry differs from elapsed_: both agree above
  // it, so the slot lies ahead of the wheel's position in that level and nothing wraps.
  const std::uint32_t level = level_of_bit_[63 - std::countl_zero(expiry ^ elapsed_)];
  const auto slot = static_cast<std::uint32_t>(expiry >> (level * bits_)) & (slots_ - 1);
  link(index, level * slots_ + slot);
}

inline void TimerWheel::insert(std::uint32_t index, Rep due_before) noexcept {
  Node& n = node(index);
  n.seq = seq_++;
  if (n.deadline <= std::max(due_before, last_now_)) {
    link(index, due_list_);
    return;
  }
  // deadline > last_now_ >= elapsed_ * tick_, so the expiry tick is after elapsed_.
  place(index, expiry_tick(n.deadline));
}

std::optional<TimerWheel::Occupied> TimerWheel::first_occupied() const noexcept {
  // Lower levels hold earlier ticks, and within a level every occupied slot lies ahead of the
  // wheel's position: the first set bit is the earliest slot.
  for (std::uint32_t level = 0; level < levels_; ++level) {
    for (std::uint32_t w = 0; w < words_; ++w) {
      const std::uint64_t word = occupied_[level * words_ + w];
      if (word == 0) continue;
      const std::uint32_t slot = w * 64 + static_cast<std::uint32_t>(std::countr_zero(word));
      const std::uint32_t shift = level * bits_;
      const std::uint32_t span = shift + bits_;
      const std::uint64_t high = span >= 64 ? 0 : elapsed_ >> span << span;
      return Occupied{level, slot, high | std::uint64_t{slot} << shift};
    }
  }
  return std::nullopt;
}

void TimerWheel::collect(std::uint32_t index) {
  Node& n = node(index);
  expiring_.push_back({n.deadline, n.seq, {index, n.generation}});  // may throw: node still linked
  unlink(index);
  n.where = kFired;
  if (n.interval != 0) n.deadline = next_period(n.deadline, n.interval, last_now_);
}

TimerWheel::Rep TimerWheel::now_ns() const {
  return ((now_ ? now_() : Clock::now()) - start_).count();
}

TimerId TimerWheel::run_after(Clock::duration delay, TimerCallback cb) {
  const Rep now = now_ns();  // outside the lock
  return schedule(saturating_add(now, delay.count()), 0, now, std::move(cb));
}

TimerId TimerWheel::run_every(Clock::duration interval, TimerCallback cb) {
  if (interval.count() <= 0) throw std::invalid_argument("lf::TimerWheel: interval must be > 0");
  const Rep now = now_ns();
  return schedule(saturating_add(now, interval.count()), interval.count(), now, std::move(cb));
}

TimerId TimerWheel::run_at(Clock::time_point deadline, TimerCallback cb) {
  return schedule((deadline - start_).count(), 0, kRepMin, std::move(cb));
}

TimerId TimerWheel::schedule(Rep deadline, Rep interval, Rep due_before, TimerCallback&& cb) {
  if (!cb) throw std::invalid_argument("lf::TimerWheel: empty callback");
  std::lock_guard lock(mutex_);
  const std::uint32_t index = allocate();
  Node& n = node(index);
  n.deadline = deadline;
  n.interval = interval;
  n.callback = std::move(cb);
  insert(index, due_before);
  ++live_;
  return {index, n.generation};
}

bool TimerWheel::cancel(TimerId id) {
  TimerCallback doomed;  // destroyed after the lock is released: its destructor may call us
  std::lock_guard lock(mutex_);
  if (!is_live(id)) return false;
  Node& n = node(id.index);
  // kFired: the callable advance() handed out finds the timer gone. kRunning: the running
  // callback is not in the node; fire() sees the new generation and drops it.
  if (n.where < lists_.size()) unlink(id.index);
  doomed = std::move(n.callback);
  release(id.index);
  return true;
}

bool TimerWheel::touch(TimerId id, Clock::duration delay) {
  const Rep now = now_ns();
  std::lock_guard lock(mutex_);
  if (!is_live(id)) return false;
  Node& n = node(id.index);
  const Rep deadline = saturating_add(now, delay.count());
  if (n.where == kRunning) {  // fire() puts it back at this deadline
    n.deadline = deadline;
    return true;
  }
  // Postponed on a slot list: the slot comes before the new deadline, and advance() moves the
  // timer on from there (an idle timeout touched on every request costs one cache line).
  if (n.where < due_list_ && deadline >= n.deadline) {
    n.deadline = deadline;
    n.seq = seq_++;
    return true;
  }
  if (n.where != kFired) unlink(id.index);
  n.deadline = deadline;
  insert(id.index, now);
  return true;
}

void TimerWheel::advance(Clock::time_point now, std::vector<TimerCallback>& expired) {
  const Rep now_rel = (now - start_).count();
  expiring_.clear();
  {
    std::lock_guard lock(mutex_);
    last_now_ = std::max(last_now_, now_rel);
    while (lists_[due_list_].head != kNil) collect(lists_[due_list_].head);
    if (now_rel >= 0) {
      const auto target = static_cast<std::uint64_t>(now_rel / tick_);
      for (auto slot = first_occupied(); slot && slot->start_tick <= target;
           slot = first_occupied()) {
        elapsed_ = slot->start_tick;
        const std::uint32_t list = slot->level * slots_ + slot->slot;
        // Every timer here is due now, or (a higher level, or postponed by touch()) moves on to
        // a lower level.
        while (lists_[list].head != kNil) {
          const std::uint32_t index = lists_[list].head;
          const std::uint64_t expiry = expiry_tick(node(index).deadline);
          if (expiry <= elapsed_) {
            collect(index);
          } else {
            unlink(index);
            place(index, expiry);
          }
        }
      }
      elapsed_ = std::max(elapsed_, target);
    }
  }
  // Sorted outside the lock; the callables check under the lock that their timer is still live.
  const auto by_deadline = [](const Expiring& a, const Expiring& b) {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
  };
  if (!std::is_sorted(expiring_.begin(), expiring_.end(), by_deadline)) {
    std::sort(expiring_.begin(), expiring_.end(), by_deadline);
  }
  for (const Expiring& e : expiring_) expired.emplace_back([this, id = e.id] { fire(id); });
}

std::optional<TimerWheel::Clock::time_point> TimerWheel::next_deadline() const {
  std::lock_guard lock(mutex_);
  if (lists_[due_list_].head != kNil) return start_ + Clock::duration(last_now_);
  const std::optional<Occupied> slot = first_occupied();
  if (!slot) return std::nullopt;
  const Rep headroom = (Clock::time_point::max() - start_).count();
  if (slot->start_tick > static_cast<std::uint64_t>(headroom / tick_)) {
    return Clock::time_point::max();
  }
  return start_ + Clock::duration(static_cast<Rep>(slot->start_tick) * tick_);
}

TimerWheel::Clock::time_point TimerWheel::round_up_to_tick(Clock::time_point t) const noexcept {
  const Rep rel = (t - start_).count();
  const Rep ticks = rel / tick_ + (rel % tick_ > 0);  // division truncates: a ceiling below 0
  Rep offset = 0;
  if (__builtin_mul_overflow(ticks, tick_, &offset) ||
      offset > (Clock::time_point::max() - start_).count()) {
    return Clock::time_point::max();
  }
  return start_ + Clock::duration(offset);
}

std::size_t TimerWheel::size() const {
  std::lock_guard lock(mutex_);
  return live_;
}

void TimerWheel::fire(TimerId id) {
  TimerCallback cb;  // run and destroyed outside the lock
  bool periodic = false;
  {
    std::lock_guard lock(mutex_);
    if (!is_live(id) || node(id.index).where != kFired) return;  // cancelled or touched since
    Node& n = node(id.index);
    cb = std::move(n.callback);
    periodic = n.interval != 0;
    if (periodic) {
      n.where = kRunning;
    } else {
      release(id.index);
    }
  }
  if (!periodic) {
    cb();
    return;
  }
  const auto rearm = [&] {
    TimerCallback doomed;
    std::lock_guard lock(mutex_);
    if (is_live(id) && node(id.index).where == kRunning) {
      node(id.index).callback = std::move(cb);
      insert(id.index, kRepMin);
    } else {
      doomed = std::move(cb);  // cancelled while it ran
    }
  };
  try {
    cb();
  } catch (...) {
    rearm();
    throw;
  }
  rearm();
}

}  // namespace lf
