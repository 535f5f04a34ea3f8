#include "kv/kv_session.h"

#include <atomic>

namespace lf {
namespace {

std::atomic<std::uint64_t> g_next_id{1};
std::atomic<std::uint64_t> g_connected{0};

}  // namespace

KvSession::KvSession() : id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  g_connected.fetch_add(1, std::memory_order_relaxed);
}

KvSession::~KvSession() { g_connected.fetch_sub(1, std::memory_order_relaxed); }

std::uint64_t KvSession::connected() noexcept {
  return g_connected.load(std::memory_order_relaxed);
}

}  // namespace lf
