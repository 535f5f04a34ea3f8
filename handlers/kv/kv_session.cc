#include "lf/handlers/kv/kv_session.h"

#include <algorithm>
#include <atomic>

#include "lf/handlers/kv/kv_clients.h"
#include "lf/handlers/kv/kv_store.h"

namespace lf {
namespace {

std::atomic<std::uint64_t> g_next_id{1};
std::atomic<std::uint64_t> g_connected{0};

}  // namespace

KvSession::KvSession() : id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  info_.created = info_.last_active = std::chrono::steady_clock::now();
  g_connected.fetch_add(1, std::memory_order_relaxed);
}

KvSession::~KvSession() {
  kv_clients::remove(*this);  // first: CLIENT LIST may be reading this session right now
  unwatch_all();
  g_connected.fetch_sub(1, std::memory_order_relaxed);
}

void KvSession::set_name(std::string name) {
  std::lock_guard lock(info_mutex_);
  info_.name = name;
  name_ = std::move(name);
}

KvSession::Info KvSession::info() const {
  std::lock_guard lock(info_mutex_);
  return info_;
}

void KvSession::note_command(std::string_view command) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(info_mutex_);
  info_.last_command.assign(command);
  info_.last_active = now;
  info_.queued = in_transaction_ ? static_cast<int>(queued_.size()) : -1;
}

void KvSession::publish_memory(const Memory& memory) noexcept {
  unprocessed_input_.store(memory.unprocessed_input, std::memory_order_relaxed);
  input_free_.store(memory.input_free, std::memory_order_relaxed);
  held_.store(memory.held, std::memory_order_relaxed);
}

KvSession::Memory KvSession::memory() const noexcept {
  return {unprocessed_input_.load(std::memory_order_relaxed),
          input_free_.load(std::memory_order_relaxed), held_.load(std::memory_order_relaxed)};
}

void KvSession::run_deferred() {
  auto work = std::move(deferred_);
  deferred_.clear();
  for (const auto& step : work) step();
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

std::uint64_t KvSession::created() noexcept {
  return g_next_id.load(std::memory_order_relaxed) - 1;
}

std::uint64_t KvSession::connected() noexcept {
  return g_connected.load(std::memory_order_relaxed);
}

}  // namespace lf
