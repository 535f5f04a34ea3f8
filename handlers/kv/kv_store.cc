#include "lf/handlers/kv/kv_store.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <iterator>
#include <random>

#include "lf/handlers/kv/integer_text.h"
#include "lf/timer/timer_service.h"

namespace lf {
namespace {

// The store's gate held shared for a scope.
template <typename GateType>
class SharedGuard {
 public:
  explicit SharedGuard(GateType& gate) : gate_(gate) { gate_.lock_shared(); }
  ~SharedGuard() { gate_.unlock_shared(); }
  SharedGuard(const SharedGuard&) = delete;
  SharedGuard& operator=(const SharedGuard&) = delete;

 private:
  GateType& gate_;
};

}  // namespace

KvStore::KvStore(std::size_t shards) : shards_(std::max<std::size_t>(shards, 1)) {}

std::size_t KvStore::shard_index(std::string_view key) const noexcept {
  // The high bits: the shard's own hash table uses the low ones for its buckets.
  const std::size_t hash = KeyHash{}(key);
  return (hash ^ (hash >> 29) ^ (hash >> 47)) % shards_.size();
}

KvStore::Map::iterator KvStore::find_live(Shard& shard, std::string_view key, Deadline now) {
  const auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return it;
  // Expired once the clock has passed the deadline (Redis: now > when).
  if (it->second.deadline != kNoExpiry && now > it->second.deadline) {
    touch(shard, key);
    erase_entry(shard, it);
    return shard.entries.end();
  }
  return it;
}

void KvStore::erase_entry(Shard& shard, Map::iterator it) {
  if (it->second.deadline != kNoExpiry) shard.volatile_keys.erase(std::string_view(it->first));
  shard.entries.erase(it);
}

void KvStore::set_deadline(Shard& shard, Map::iterator it, Deadline deadline) {
  const bool was_volatile = it->second.deadline != kNoExpiry;
  it->second.deadline = deadline;
  if (deadline == kNoExpiry) {
    if (was_volatile) shard.volatile_keys.erase(std::string_view(it->first));
  } else if (!was_volatile) {
    shard.volatile_keys.insert(std::string_view(it->first));
  }
}

void KvStore::touch(Shard& shard, std::string_view key) {
  if (shard.watchers.empty()) return;
  const auto it = shard.watchers.find(key);
  if (it == shard.watchers.end()) return;
  for (std::atomic<bool>* dirty : it->second) dirty->store(true, std::memory_order_relaxed);
}

// --- Access ---

KvStore::Gate::Gate() {
  pthread_rwlockattr_t attributes;
  pthread_rwlockattr_init(&attributes);
  pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock_, &attributes);
  pthread_rwlockattr_destroy(&attributes);
}

KvStore::Gate::~Gate() { pthread_rwlock_destroy(&lock_); }
void KvStore::Gate::lock_shared() noexcept { pthread_rwlock_rdlock(&lock_); }
void KvStore::Gate::unlock_shared() noexcept { pthread_rwlock_unlock(&lock_); }
void KvStore::Gate::lock() noexcept { pthread_rwlock_wrlock(&lock_); }
void KvStore::Gate::unlock() noexcept { pthread_rwlock_unlock(&lock_); }

KvStore::Access::Access(KvStore& store, std::vector<std::size_t> shards)
    : store_(&store), shards_(std::move(shards)) {
  std::sort(shards_.begin(), shards_.end());
  shards_.erase(std::unique(shards_.begin(), shards_.end()), shards_.end());
  if (shards_.size() > kMaxShardLocks) {
    shards_.clear();
    whole_store_ = true;
    store_->gate_.lock();
  } else if (!shards_.empty()) {
    // A command without keys takes nothing (WATCH and EXEC lock by themselves).
    store_->gate_.lock_shared();
    // Always in ascending shard order, so two commands cannot deadlock.
    for (const std::size_t index : shards_) store_->shards_[index].mutex.lock();
  }
  now_ = KvStore::now();
}

KvStore::Access::Access(Access&& other) noexcept
    : store_(other.store_),
      shards_(std::move(other.shards_)),
      whole_store_(other.whole_store_),
      now_(other.now_) {
  other.shards_.clear();
  other.whole_store_ = false;
}

KvStore::Access::~Access() {
  if (whole_store_) {
    store_->gate_.unlock();
    return;
  }
  if (shards_.empty()) return;
  for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) store_->shards_[*it].mutex.unlock();
  store_->gate_.unlock_shared();
}

bool KvStore::Access::holds(std::size_t shard) const noexcept {
  return whole_store_ || std::binary_search(shards_.begin(), shards_.end(), shard);
}

KvStore::Shard& KvStore::Access::shard_of(std::string_view key) noexcept {
  const std::size_t index = store_->shard_index(key);
  assert(holds(index) && "a command touched a key it did not lock");
  return store_->shards_[index];
}

KvStore::Entry* KvStore::Access::find(std::string_view key) {
  Shard& shard = shard_of(key);
  const auto it = find_live(shard, key, now_);
  return it == shard.entries.end() ? nullptr : &it->second;
}

KvStore::Entry& KvStore::Access::write(std::string_view key) {
  Shard& shard = shard_of(key);
  touch(shard, key);
  const auto it = find_live(shard, key, now_);
  if (it != shard.entries.end()) return it->second;
  return shard.entries.try_emplace(std::string(key)).first->second;
}

bool KvStore::Access::erase(std::string_view key) {
  Shard& shard = shard_of(key);
  const auto it = find_live(shard, key, now_);
  if (it == shard.entries.end()) return false;
  touch(shard, key);
  erase_entry(shard, it);
  return true;
}

void KvStore::Access::set_deadline(std::string_view key, Deadline deadline) {
  Shard& shard = shard_of(key);
  const auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return;
  touch(shard, key);
  KvStore::set_deadline(shard, it, deadline);
}

KvStore::SetResult KvStore::Access::set(std::string_view key, std::string_view value,
                                        const SetOptions& options) {
  SetResult result;
  Entry* entry = find(key);
  if (entry != nullptr && entry->string() == nullptr) {
    // SET overwrites any type, but SET ... GET must not: Redis checks the old value first.
    if (options.return_old) {
      result.wrong_type = true;
      return result;
    }
  }
  if (options.return_old && entry != nullptr) result.old_value = *entry->string();
  if ((options.condition == SetCondition::kIfAbsent && entry != nullptr) ||
      (options.condition == SetCondition::kIfPresent && entry == nullptr)) {
    return result;
  }
  Entry& written = write(key);
  written.value = std::string(value);
  if (!options.keep_ttl) set_deadline(key, options.expire_at);
  result.written = true;
  return result;
}

KvStore::IncrementResult KvStore::Access::increment(std::string_view key, long long delta) {
  Entry* entry = find(key);
  long long value = 0;
  if (entry != nullptr) {
    const std::string* text = entry->string();
    if (text == nullptr) return {IncrementStatus::kWrongType, 0};
    if (!parse_integer(*text, value)) return {IncrementStatus::kNotInteger, 0};
  }
  if ((delta < 0 && value < 0 && delta < LLONG_MIN - value) ||
      (delta > 0 && value > 0 && delta > LLONG_MAX - value)) {
    return {IncrementStatus::kOverflow, 0};
  }
  value += delta;
  write(key).value = std::to_string(value);
  return {IncrementStatus::kOk, value};
}

bool KvStore::Access::expire_at(std::string_view key, Deadline deadline,
                                ExpireCondition condition) {
  const Entry* entry = find(key);
  if (entry == nullptr) return false;
  const Deadline current = entry->deadline;
  const bool persistent = current == kNoExpiry;
  if ((condition.if_no_ttl && !persistent) || (condition.if_has_ttl && persistent) ||
      (condition.if_greater && (persistent || deadline <= current)) ||
      (condition.if_less && !persistent && deadline >= current)) {
    return false;
  }
  if (deadline <= now_) {
    erase(key);
  } else {
    set_deadline(key, deadline);
  }
  return true;
}

std::size_t KvStore::Access::size() const {
  assert(whole_store_);
  std::size_t total = 0;
  for (const Shard& shard : store_->shards_) total += shard.entries.size();
  return total;
}

std::size_t KvStore::Access::volatile_size() const {
  assert(whole_store_);
  std::size_t total = 0;
  for (const Shard& shard : store_->shards_) total += shard.volatile_keys.size();
  return total;
}

void KvStore::Access::clear() {
  assert(whole_store_);
  for (Shard& shard : store_->shards_) {
    for (const auto& [key, watchers] : shard.watchers) {
      if (shard.entries.contains(std::string_view(key))) touch(shard, key);
    }
    shard.volatile_keys.clear();  // views first: they point into entries
    shard.entries.clear();
  }
}

std::optional<std::string> KvStore::Access::random_key() {
  assert(whole_store_);
  thread_local std::mt19937_64 random(std::random_device{}());
  // Like Redis, a picked key that has expired is removed and another one is picked.
  for (;;) {
    const std::size_t total = size();
    if (total == 0) return std::nullopt;
    std::size_t pick = std::uniform_int_distribution<std::size_t>(0, total - 1)(random);
    for (Shard& shard : store_->shards_) {
      if (pick >= shard.entries.size()) {
        pick -= shard.entries.size();
        continue;
      }
      auto it = std::next(shard.entries.begin(), static_cast<std::ptrdiff_t>(pick));
      const std::string key = it->first;
      if (find_live(shard, key, now_) != shard.entries.end()) return key;
      break;
    }
  }
}

// --- KvStore ---

KvStore::Access KvStore::access(std::vector<std::size_t> shards) {
  return Access(*this, std::move(shards));
}

KvStore::Access KvStore::access_all() {
  Access access(*this, {});  // locks nothing
  gate_.lock();
  access.whole_store_ = true;
  return access;
}

std::optional<std::string> KvStore::get(std::string_view key) {
  Access db = access(key);
  Entry* entry = db.find(key);
  if (entry == nullptr || entry->string() == nullptr) return std::nullopt;
  return *entry->string();
}

std::vector<std::optional<std::string>> KvStore::get_many(std::span<const std::string_view> keys) {
  std::vector<std::size_t> shards;
  shards.reserve(keys.size());
  for (const std::string_view key : keys) shards.push_back(shard_index(key));
  Access db = access(std::move(shards));
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  for (const std::string_view key : keys) {
    Entry* entry = db.find(key);
    if (entry != nullptr && entry->string() != nullptr) {
      values.emplace_back(*entry->string());
    } else {
      values.emplace_back();
    }
  }
  return values;
}

KvStore::SetResult KvStore::set(std::string_view key, std::string_view value,
                                const SetOptions& options) {
  return access(key).set(key, value, options);
}

void KvStore::set_many(std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<std::size_t> shards;
  shards.reserve(pairs.size());
  for (const auto& pair : pairs) shards.push_back(shard_index(pair.first));
  Access db = access(std::move(shards));
  for (const auto& [key, value] : pairs) {
    db.write(key).value = std::string(value);
    db.set_deadline(key, kNoExpiry);
  }
}

bool KvStore::erase(std::string_view key) { return access(key).erase(key); }

bool KvStore::contains(std::string_view key) { return access(key).find(key) != nullptr; }

KvStore::IncrementResult KvStore::increment(std::string_view key, long long delta) {
  return access(key).increment(key, delta);
}

bool KvStore::expire_at(std::string_view key, Deadline deadline, ExpireCondition condition) {
  return access(key).expire_at(key, deadline, condition);
}

std::optional<KvStore::Deadline> KvStore::deadline(std::string_view key) {
  Access db = access(key);
  const Entry* entry = db.find(key);
  if (entry == nullptr) return std::nullopt;
  return entry->deadline;
}

bool KvStore::persist(std::string_view key) {
  Access db = access(key);
  const Entry* entry = db.find(key);
  if (entry == nullptr || entry->deadline == kNoExpiry) return false;
  db.set_deadline(key, kNoExpiry);
  return true;
}

std::size_t KvStore::size() const {
  SharedGuard<Gate> gate(gate_);
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

std::size_t KvStore::volatile_size() const {
  SharedGuard<Gate> gate(gate_);
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.volatile_keys.size();
  }
  return total;
}

void KvStore::clear() { access_all().clear(); }

void KvStore::watch(std::string_view key, std::atomic<bool>* dirty) {
  SharedGuard<Gate> gate(gate_);
  Shard& shard = shards_[shard_index(key)];
  std::lock_guard lock(shard.mutex);
  auto it = shard.watchers.find(key);
  if (it == shard.watchers.end()) it = shard.watchers.try_emplace(std::string(key)).first;
  if (std::find(it->second.begin(), it->second.end(), dirty) == it->second.end()) {
    it->second.push_back(dirty);
  }
}

void KvStore::unwatch(std::string_view key, std::atomic<bool>* dirty) {
  SharedGuard<Gate> gate(gate_);
  Shard& shard = shards_[shard_index(key)];
  std::lock_guard lock(shard.mutex);
  const auto it = shard.watchers.find(key);
  if (it == shard.watchers.end()) return;
  std::erase(it->second, dirty);
  if (it->second.empty()) shard.watchers.erase(it);
}

std::pair<std::size_t, std::size_t> KvStore::sweep_round(Shard& shard, Deadline now,
                                                         std::size_t sample) {
  std::lock_guard lock(shard.mutex);  // the caller holds the gate shared
  auto& keys = shard.volatile_keys;
  if (keys.empty()) return {0, 0};
  const std::size_t buckets = keys.bucket_count();
  // Like Redis, give up after many empty buckets: a sparse table must not hold the lock long.
  const std::size_t max_empty = sample * 10;
  std::size_t sampled = 0;
  std::size_t empty = 0;
  std::vector<std::string_view> expired;
  for (std::size_t scanned = 0; scanned < buckets && sampled < sample && empty < max_empty;
       ++scanned) {
    const std::size_t bucket = shard.sweep_cursor++ % buckets;
    if (keys.bucket_size(bucket) == 0) {
      ++empty;
      continue;
    }
    for (auto it = keys.begin(bucket); it != keys.end(bucket); ++it) {
      ++sampled;
      const auto entry = shard.entries.find(*it);
      if (entry != shard.entries.end() && now > entry->second.deadline) expired.push_back(*it);
    }
  }
  for (const std::string_view key : expired) {
    touch(shard, key);
    erase_entry(shard, shard.entries.find(key));
  }
  return {sampled, expired.size()};
}

std::size_t KvStore::sweep_expired(const ExpirySweepOptions& options) {
  const auto started = Clock::now();
  const Deadline current = now();
  const std::size_t count = shards_.size();
  const std::size_t first = sweep_start_.fetch_add(1, std::memory_order_relaxed);
  std::size_t removed = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Shard& shard = shards_[(first + i) % count];
    SharedGuard<Gate> gate(gate_);
    for (;;) {
      const auto [sampled, expired] = sweep_round(shard, current, options.keys_per_round);
      removed += expired;
      if (Clock::now() - started > options.time_budget) return removed;
      // Mostly live keys: this shard is clean enough, go to the next one.
      if (sampled == 0 || expired * 100 <= sampled * options.stale_percent) break;
    }
  }
  return removed;
}

TimerId KvStore::start_expiry_sweep(TimerService& timers, const ExpirySweepOptions& options) {
  return timers.run_every(options.interval, [weak = weak_from_this(), options] {
    if (const auto self = weak.lock()) self->sweep_expired(options);
  });
}

}  // namespace lf
