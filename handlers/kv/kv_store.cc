#include "kv/kv_store.h"

#include <algorithm>
#include <climits>

#include "kv/integer_text.h"
#include "lf/timer_service.h"

namespace lf {

KvStore::KvStore(std::size_t shards) : shards_(std::max<std::size_t>(shards, 1)) {}

std::size_t KvStore::shard_index(std::string_view key) const noexcept {
  // The high bits: the shard's own hash table uses the low ones for its buckets.
  const std::size_t hash = KeyHash{}(key);
  return (hash ^ (hash >> 29) ^ (hash >> 47)) % shards_.size();
}

KvStore::Entry* KvStore::find_live(Shard& shard, std::string_view key, Deadline now) {
  const auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return nullptr;
  // Expired once the clock has passed the deadline (Redis: now > when).
  if (it->second.deadline != kNoExpiry && now > it->second.deadline) {
    erase_entry(shard, it);
    return nullptr;
  }
  return &it->second;
}

KvStore::Entry& KvStore::insert(Shard& shard, std::string_view key) {
  return shard.entries.try_emplace(std::string(key)).first->second;
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

std::optional<std::string> KvStore::get(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const Entry* entry = find_live(shard, key, now());
  if (entry == nullptr) return std::nullopt;
  return entry->value;
}

KvStore::SetResult KvStore::set(std::string_view key, std::string_view value,
                                const SetOptions& options) {
  Shard& shard = shard_of(key);
  SetResult result;
  std::lock_guard lock(shard.mutex);
  Entry* entry = find_live(shard, key, now());
  if (options.return_old && entry != nullptr) result.old_value = entry->value;
  if ((options.condition == SetCondition::kIfAbsent && entry != nullptr) ||
      (options.condition == SetCondition::kIfPresent && entry == nullptr)) {
    return result;
  }
  if (entry == nullptr) entry = &insert(shard, key);
  entry->value.assign(value);
  if (!options.keep_ttl) set_deadline(shard, shard.entries.find(key), options.expire_at);
  result.written = true;
  return result;
}

void KvStore::set_many(std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<std::size_t> indices;
  indices.reserve(pairs.size());
  for (const auto& pair : pairs) indices.push_back(shard_index(pair.first));
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  // Always in ascending shard order, so two MSETs cannot deadlock.
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(indices.size());
  for (const std::size_t index : indices) locks.emplace_back(shards_[index].mutex);
  for (const auto& [key, value] : pairs) {
    Shard& shard = shard_of(key);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) it = shard.entries.try_emplace(std::string(key)).first;
    it->second.value.assign(value);
    set_deadline(shard, it, kNoExpiry);
  }
}

bool KvStore::erase(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (find_live(shard, key, now()) == nullptr) return false;
  erase_entry(shard, shard.entries.find(key));
  return true;
}

bool KvStore::contains(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  return find_live(shard, key, now()) != nullptr;
}

KvStore::IncrementResult KvStore::increment(std::string_view key, long long delta) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  Entry* entry = find_live(shard, key, now());
  long long value = 0;
  if (entry != nullptr && !parse_integer(entry->value, value)) {
    return {IncrementStatus::kNotInteger, 0};
  }
  if ((delta < 0 && value < 0 && delta < LLONG_MIN - value) ||
      (delta > 0 && value > 0 && delta > LLONG_MAX - value)) {
    return {IncrementStatus::kOverflow, 0};
  }
  value += delta;
  if (entry == nullptr) entry = &insert(shard, key);
  entry->value = std::to_string(value);
  return {IncrementStatus::kOk, value};
}

bool KvStore::expire_at(std::string_view key, Deadline deadline, ExpireCondition condition) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const Deadline current_time = now();
  const Entry* entry = find_live(shard, key, current_time);
  if (entry == nullptr) return false;
  const Deadline current = entry->deadline;
  const bool persistent = current == kNoExpiry;
  if ((condition.if_no_ttl && !persistent) || (condition.if_has_ttl && persistent) ||
      (condition.if_greater && (persistent || deadline <= current)) ||
      (condition.if_less && !persistent && deadline >= current)) {
    return false;
  }
  const auto it = shard.entries.find(key);
  if (deadline <= current_time) {
    erase_entry(shard, it);
  } else {
    set_deadline(shard, it, deadline);
  }
  return true;
}

std::optional<KvStore::Deadline> KvStore::deadline(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const Entry* entry = find_live(shard, key, now());
  if (entry == nullptr) return std::nullopt;
  return entry->deadline;
}

bool KvStore::persist(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const Entry* entry = find_live(shard, key, now());
  if (entry == nullptr || entry->deadline == kNoExpiry) return false;
  set_deadline(shard, shard.entries.find(key), kNoExpiry);
  return true;
}

std::size_t KvStore::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

std::size_t KvStore::volatile_size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.volatile_keys.size();
  }
  return total;
}

void KvStore::clear() {
  for (Shard& shard : shards_) {
    Map entries;
    std::unordered_set<std::string_view, KeyHash> volatile_keys;
    {
      std::lock_guard lock(shard.mutex);
      volatile_keys.swap(shard.volatile_keys);  // views first: they point into entries
      entries.swap(shard.entries);
    }
    // Freed outside the lock.
  }
}

std::pair<std::size_t, std::size_t> KvStore::sweep_round(Shard& shard, Deadline now,
                                                         std::size_t sample) {
  std::lock_guard lock(shard.mutex);
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
  for (const std::string_view key : expired) erase_entry(shard, shard.entries.find(key));
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
