// Public. KvStore: the key-value data shared by every connection of a key-value server. Keys
// are spread over shards by hash, each with its own mutex, so commands on different shards do
// not contend. Every command runs under one KvStore::Access, which holds the mutexes of all the
// shards its keys live in (taken in ascending shard order, so two commands cannot deadlock):
// like Redis's single thread, a command (or a MULTI/EXEC transaction) is atomic with respect to
// every other one, reads included. A store-wide gate, held shared with the shard mutexes,
// is held exclusively instead by commands that need the whole keyspace (KEYS, FLUSHALL) or more
// than kMaxShardLocks shards, so no thread ever holds more than kMaxShardLocks + 1 locks. A key may carry an expiry deadline (steady clock, millisecond resolution): it is
// removed lazily when accessed after its deadline, and by an active sweep that samples a bounded
// number of keys per shard on each timer tick (like Redis's activeExpireCycle). Thread safe.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <utility>
#include <vector>

#include "lf/handlers/kv/kv_hash.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class TimerService;

struct ExpirySweepOptions {
  std::chrono::milliseconds interval{100};  // Redis: hz 10
  std::size_t keys_per_round = 20;          // keys sampled per shard per lock hold
  // Another round on a shard while more than this percentage of the sample had expired.
  std::size_t stale_percent = 10;
  // Longest time one sweep may run (it runs on a ThreadSet thread).
  std::chrono::microseconds time_budget{2000};
};

class KvStore : public std::enable_shared_from_this<KvStore> {
  struct Shard;

 public:
  using Clock = std::chrono::steady_clock;
  using Deadline = std::chrono::time_point<Clock, std::chrono::milliseconds>;
  static constexpr Deadline kNoExpiry = Deadline::max();
  static constexpr std::size_t kDefaultShards = 64;
  // An Access needing more shards than this takes the whole store instead. ThreadSanitizer
  // tracks at most 64 locks held by one thread.
  static constexpr std::size_t kMaxShardLocks = 16;

  // A key's value (a string or a hash) and its expiry deadline.
  struct Entry {
    std::variant<std::string, KvHash> value;
    Deadline deadline = kNoExpiry;

    [[nodiscard]] std::string* string() noexcept { return std::get_if<std::string>(&value); }
    [[nodiscard]] KvHash* hash() noexcept { return std::get_if<KvHash>(&value); }
    [[nodiscard]] const std::string* string() const noexcept {
      return std::get_if<std::string>(&value);
    }
    [[nodiscard]] const KvHash* hash() const noexcept { return std::get_if<KvHash>(&value); }
  };

  enum class SetCondition { kAlways, kIfAbsent, kIfPresent };  // -, NX, XX
  struct SetOptions {
    SetCondition condition = SetCondition::kAlways;
    Deadline expire_at = kNoExpiry;
    bool keep_ttl = false;    // KEEPTTL: leave the key's deadline as it is
    bool return_old = false;  // GET: report the previous value
  };
  struct SetResult {
    bool written = false;
    bool wrong_type = false;               // the key holds a hash: nothing done
    std::optional<std::string> old_value;  // with return_old
  };

  enum class IncrementStatus { kOk, kNotInteger, kOverflow, kWrongType };
  struct IncrementResult {
    IncrementStatus status = IncrementStatus::kOk;
    long long value = 0;
  };

  // EXPIRE's NX, XX, GT and LT, checked as Redis does: GT treats a key without a deadline as
  // one with an infinite deadline; LT lets such a key through (unless XX is also given).
  struct ExpireCondition {
    bool if_no_ttl = false;   // NX
    bool if_has_ttl = false;  // XX
    bool if_greater = false;  // GT
    bool if_less = false;     // LT
  };

  // Exclusive use of some shards for one command. It may only touch keys in those shards
  // (checked by assert). Movable, not copyable; unlocks when destroyed.
  class Access {
   public:
    Access(Access&& other) noexcept;
    Access& operator=(Access&&) = delete;
    Access(const Access&) = delete;
    ~Access();

    // The time the command runs at (Redis also uses one time for a whole command).
    [[nodiscard]] Deadline now() const noexcept { return now_; }

    // The live entry, or nullptr (an expired one is removed). For reading: change it only
    // through write(), erase() and set_deadline(), which tell WATCHing clients.
    [[nodiscard]] Entry* find(std::string_view key);
    // The live entry for changing, created as an empty string without deadline if missing.
    Entry& write(std::string_view key);
    bool erase(std::string_view key);
    // On a live key; kNoExpiry removes the deadline.
    void set_deadline(std::string_view key, Deadline deadline);

    // String operations with Redis's semantics (WRONGTYPE reported, not thrown).
    SetResult set(std::string_view key, std::string_view value, const SetOptions& options);
    IncrementResult increment(std::string_view key, long long delta);
    // Sets the deadline if the key exists and `condition` holds; a deadline already past
    // deletes the key. True if either happened.
    bool expire_at(std::string_view key, Deadline deadline, ExpireCondition condition);

    // Whole-keyspace operations: only with every shard held (KvStore::access_all).
    [[nodiscard]] std::size_t size() const;  // with expired keys not removed yet, as DBSIZE
    [[nodiscard]] std::size_t volatile_size() const;  // keys with a deadline
    void clear();
    // Calls fn(key, entry) for each live key of one shard.
    template <typename Fn>
    void for_each_in_shard(std::size_t shard, Fn&& fn);
    [[nodiscard]] std::size_t shard_count() const noexcept { return store_->shards_.size(); }
    // RANDOMKEY: a live key picked at random (a shard by its size, then a key in it), or
    // nullopt if there is none.
    [[nodiscard]] std::optional<std::string> random_key();

   private:
    friend class KvStore;
    Access(KvStore& store, std::vector<std::size_t> shards);
    [[nodiscard]] bool holds(std::size_t shard) const noexcept;
    Shard& shard_of(std::string_view key) noexcept;

    KvStore* store_;
    std::vector<std::size_t> shards_;  // ascending, locked (with the gate shared)
    bool whole_store_ = false;         // the gate held exclusively instead
    Deadline now_;
  };

  explicit KvStore(std::size_t shards = kDefaultShards);

  [[nodiscard]] static Deadline now() noexcept {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
  }

  [[nodiscard]] std::size_t shard_index(std::string_view key) const noexcept;
  // Locks the given shards (any order, duplicates allowed).
  [[nodiscard]] Access access(std::vector<std::size_t> shards);
  [[nodiscard]] Access access(std::string_view key) { return access({shard_index(key)}); }
  [[nodiscard]] Access access_all();

  // One-command conveniences, each under its own Access.
  [[nodiscard]] std::optional<std::string> get(std::string_view key);
  // MGET: one snapshot of all the keys (nullopt for a missing or non-string key).
  [[nodiscard]] std::vector<std::optional<std::string>> get_many(
      std::span<const std::string_view> keys);
  SetResult set(std::string_view key, std::string_view value, const SetOptions& options);
  // MSET: all pairs become visible at once. Clears their deadlines.
  void set_many(std::span<const std::pair<std::string_view, std::string_view>> pairs);
  bool erase(std::string_view key);
  [[nodiscard]] bool contains(std::string_view key);
  // INCRBY: a missing key counts as 0; the deadline is kept.
  IncrementResult increment(std::string_view key, long long delta);
  bool expire_at(std::string_view key, Deadline deadline, ExpireCondition condition);
  // The key's deadline: nullopt if the key does not exist, kNoExpiry if it has none.
  [[nodiscard]] std::optional<Deadline> deadline(std::string_view key);
  // Removes the deadline; false if the key does not exist or has none.
  bool persist(std::string_view key);

  // Keys, including expired ones not removed yet (as Redis's DBSIZE).
  [[nodiscard]] std::size_t size() const;
  // Keys with a deadline.
  [[nodiscard]] std::size_t volatile_size() const;
  void clear();

  // WATCH: `*dirty` becomes true when `key` is next changed (written, deleted, expired or
  // flushed), until unwatch(). The flag must outlive the registration.
  void watch(std::string_view key, std::atomic<bool>* dirty);
  void unwatch(std::string_view key, std::atomic<bool>* dirty);

  // One active expiry cycle: samples every shard, removing expired keys, within the options'
  // budget. Returns how many keys it removed.
  std::size_t sweep_expired(const ExpirySweepOptions& options = {});
  // Runs sweep_expired() every options.interval on `timers` for as long as the store lives
  // (the store must be owned by a shared_ptr). Cancel the returned id to stop it earlier.
  TimerId start_expiry_sweep(TimerService& timers, const ExpirySweepOptions& options = {});

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  using Map = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;

  // A writer-preferring reader/writer lock (glibc's default prefers readers, which could starve
  // KEYS or FLUSHALL under steady load). Never taken recursively.
  class Gate {
   public:
    Gate();
    ~Gate();
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;
    void lock_shared() noexcept;
    void unlock_shared() noexcept;
    void lock() noexcept;
    void unlock() noexcept;

   private:
    pthread_rwlock_t lock_;
  };

  struct alignas(64) Shard {
    mutable std::mutex mutex;
    Map entries;
    // Keys with a deadline; the views point at the keys in `entries` (nodes do not move).
    std::unordered_set<std::string_view, KeyHash> volatile_keys;
    std::size_t sweep_cursor = 0;  // next bucket of volatile_keys to sample
    // WATCHed keys of this shard (present or not) and their watchers' flags.
    std::unordered_map<std::string, std::vector<std::atomic<bool>*>, KeyHash, std::equal_to<>>
        watchers;
  };

  // The live entry for `key`, removing it if it has expired; with the shard's mutex held.
  static Map::iterator find_live(Shard& shard, std::string_view key, Deadline now);
  static void erase_entry(Shard& shard, Map::iterator it);
  static void set_deadline(Shard& shard, Map::iterator it, Deadline deadline);
  // Tells the clients WATCHing `key` that it changed; with the shard's mutex held.
  static void touch(Shard& shard, std::string_view key);
  // One bounded round on one shard: returns {sampled, removed}.
  static std::pair<std::size_t, std::size_t> sweep_round(Shard& shard, Deadline now,
                                                         std::size_t sample);

  mutable Gate gate_;
  std::vector<Shard> shards_;
  std::atomic<std::size_t> sweep_start_{0};  // the shard the next sweep starts with
};

template <typename Fn>
void KvStore::Access::for_each_in_shard(std::size_t index, Fn&& fn) {
  Shard& shard = store_->shards_[index];
  for (auto& [key, entry] : shard.entries) {
    if (entry.deadline != kNoExpiry && now_ > entry.deadline) continue;
    fn(std::string_view(key), entry);
  }
}

}  // namespace lf
