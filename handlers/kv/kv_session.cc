#include "kv/kv_session.h"

#include <algorithm>
#include <atomic>

#include "kv/kv_store.h"

namespace lf {
namespace {

std::atomic<std::uint64_t> g_next_id{1};
std::atomic<std::uint64_t> g_connected{0};

}  // namespace

KvSession::KvSession() : id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  g_connected.fetch_add(1, std::memory_order_relaxed);
}

KvSession::~KvSession() {
  unwatch_all();
  g_connected.fetch_sub(1, std::memory_order_relaxed);
}

void KvSession::queue(std::span<const std::string_view> args) {
  queued_.emplace_back(args.begin(), args.end());
}

void KvSession::end_transaction() {
  in_transaction_ = false;
  transaction_failed_ = false;
  queued_.clear();
}

void KvSession::watch(KvStore& store, std::string_view key) {
  if (std::find(watched_.begin(), watched_.end(), key) != watched_.end()) return;
  watch_store_ = &store;
  store.watch(key, &watch_dirty_);
  watched_.emplace_back(key);
}

void KvSession::unwatch_all() {
  for (const std::string& key : watched_) watch_store_->unwatch(key, &watch_dirty_);
  watched_.clear();
  watch_dirty_.store(false, std::memory_order_relaxed);
}

std::uint64_t KvSession::connected() noexcept {
  return g_connected.load(std::memory_order_relaxed);
}

}  // namespace lf
