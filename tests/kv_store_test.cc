// KvStore without a server: values, conditional SET, INCRBY overflow, deadlines (lazy removal,
// EXPIRE's NX/XX/GT/LT), the active sweep (bounded per call, removes only expired keys), MSET
// all-or-nothing visibility, and threads incrementing shared keys (exact totals).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "lf/handlers/kv/kv_store.h"
#include "lf/timer/timer_service.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Condition = KvStore::ExpireCondition;

TEST(KvStore, SetGetErase) {
  KvStore store;
  EXPECT_FALSE(store.get("k"));
  EXPECT_TRUE(store.set("k", "v", {}).written);
  EXPECT_EQ(store.get("k"), "v");
  EXPECT_TRUE(store.contains("k"));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.erase("k"));
  EXPECT_FALSE(store.erase("k"));
  EXPECT_EQ(store.size(), 0u);
}

TEST(KvStore, ConditionalSetAndOldValue) {
  KvStore store;
  KvStore::SetOptions nx;
  nx.condition = KvStore::SetCondition::kIfAbsent;
  nx.return_old = true;
  auto result = store.set("k", "1", nx);
  EXPECT_TRUE(result.written);
  EXPECT_FALSE(result.old_value);
  result = store.set("k", "2", nx);
  EXPECT_FALSE(result.written);
  EXPECT_EQ(result.old_value, "1");
  KvStore::SetOptions xx;
  xx.condition = KvStore::SetCondition::kIfPresent;
  EXPECT_TRUE(store.set("k", "3", xx).written);
  EXPECT_FALSE(store.set("other", "3", xx).written);
  EXPECT_EQ(store.get("k"), "3");
}

TEST(KvStore, Increment) {
  KvStore store;
  EXPECT_EQ(store.increment("n", 5).value, 5);
  EXPECT_EQ(store.increment("n", -7).value, -2);
  store.set("n", std::to_string(LLONG_MAX), {});
  EXPECT_EQ(store.increment("n", 1).status, KvStore::IncrementStatus::kOverflow);
  EXPECT_EQ(store.get("n"), std::to_string(LLONG_MAX));  // unchanged
  store.set("s", "12abc", {});
  EXPECT_EQ(store.increment("s", 1).status, KvStore::IncrementStatus::kNotInteger);
}

TEST(KvStore, DeadlinesAndLazyRemoval) {
  // A get() that returns only after the deadline proves nothing (a preempted thread can take
  // longer than any fixed TTL): such an attempt is repeated with a fresh store.
  bool checked = false;
  for (int attempt = 0; attempt < 5 && !checked; ++attempt) {
    KvStore store;
    KvStore::SetOptions options;
    options.expire_at = KvStore::now() + 100ms;
    store.set("k", "v", options);
    EXPECT_EQ(store.volatile_size(), 1u);
    const auto value = store.get("k");
    if (KvStore::now() >= options.expire_at) continue;
    checked = true;
    EXPECT_EQ(value, "v");
    std::this_thread::sleep_until(options.expire_at + 30ms);
    EXPECT_EQ(store.size(), 1u);  // nobody looked yet
    EXPECT_FALSE(store.get("k"));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.volatile_size(), 0u);
  }
  EXPECT_TRUE(checked) << "no attempt read the key back before its deadline";
}

TEST(KvStore, ExpireConditions) {
  KvStore store;
  store.set("k", "v", {});
  const auto later = KvStore::now() + 100s;
  const auto sooner = KvStore::now() + 50s;
  EXPECT_FALSE(store.expire_at("k", later, Condition{.if_has_ttl = true}));
  EXPECT_FALSE(store.expire_at("k", later, Condition{.if_greater = true}));  // no TTL = infinite
  EXPECT_TRUE(store.expire_at("k", later, Condition{.if_no_ttl = true}));
  EXPECT_FALSE(store.expire_at("k", sooner, Condition{.if_greater = true}));
  EXPECT_TRUE(store.expire_at("k", sooner, Condition{.if_less = true}));
  EXPECT_EQ(store.deadline("k"), sooner);
  EXPECT_TRUE(store.persist("k"));
  EXPECT_EQ(store.deadline("k"), KvStore::kNoExpiry);
  EXPECT_FALSE(store.expire_at("missing", later, {}));
  EXPECT_TRUE(store.expire_at("k", KvStore::now() - 1ms, {}));  // in the past: deleted
  EXPECT_FALSE(store.contains("k"));
}

TEST(KvStore, SweepRemovesOnlyExpiredKeysInBoundedSteps) {
  KvStore store(4);
  KvStore::SetOptions soon;
  soon.expire_at = KvStore::now() + 10ms;
  KvStore::SetOptions late;
  late.expire_at = KvStore::now() + 100s;
  for (int i = 0; i < 4000; ++i) store.set("soon:" + std::to_string(i), "v", soon);
  for (int i = 0; i < 100; ++i) store.set("late:" + std::to_string(i), "v", late);
  for (int i = 0; i < 100; ++i) store.set("plain:" + std::to_string(i), "v", {});
  std::this_thread::sleep_for(30ms);
  ExpirySweepOptions options;
  options.keys_per_round = 20;
  options.time_budget = 0us;  // one round on one shard per call
  const std::size_t removed = store.sweep_expired(options);
  EXPECT_GT(removed, 0u);
  EXPECT_LE(removed, 20u);
  options.time_budget = 10s;
  std::size_t total = removed;
  for (int i = 0; i < 100 && store.size() > 200; ++i) total += store.sweep_expired(options);
  EXPECT_EQ(total, 4000u);
  EXPECT_EQ(store.size(), 200u);
  EXPECT_EQ(store.volatile_size(), 100u);
}

TEST(KvStore, SweepRunsOnTheTimerService) {
  auto store = std::make_shared<KvStore>();
  TimerService timers(1ms);  // not registered anywhere: advanced by hand below
  ExpirySweepOptions options;
  options.interval = 5ms;
  const TimerId id = store->start_expiry_sweep(timers, options);
  EXPECT_TRUE(id.valid());
  EXPECT_EQ(timers.size(), 1u);
  EXPECT_TRUE(timers.cancel(id));
}

TEST(KvStore, MsetIsAllOrNothingToReaders) {
  KvStore store;
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const auto a = store.get("a");
      const auto b = store.get("b");
      // MSET writes a and b together, so b, read after a, is never older than a. Written one
      // after the other, a reader between the two writes would see a new a and an old b.
      if (a && b && std::stoll(*b) < std::stoll(*a)) torn.fetch_add(1);
    }
  });
  for (int i = 0; i < 20000; ++i) {
    const std::string value = std::to_string(i);
    const std::pair<std::string_view, std::string_view> pairs[] = {{"a", value}, {"b", value}};
    store.set_many(pairs);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(store.get("a"), "19999");
}

TEST(KvStore, ConcurrentIncrementsAreExact) {
  KvStore store;
  constexpr int kThreads = 8;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kIncrements; ++i) {
        store.increment("shared", 1);
        store.increment("key:" + std::to_string(i % 16), t % 2 == 0 ? 2 : -1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store.get("shared"), std::to_string(kThreads * kIncrements));
  long long sum = 0;
  for (int k = 0; k < 16; ++k) sum += std::stoll(*store.get("key:" + std::to_string(k)));
  EXPECT_EQ(sum, (kThreads / 2) * kIncrements * 2 - (kThreads / 2) * kIncrements);
}

}  // namespace
}  // namespace lf
