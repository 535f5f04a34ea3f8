#include "lf/handlers/kv/kv_clients.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace lf::kv_clients {
namespace {

std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<Client>& registry() {
  static std::vector<Client> clients;  // in connection order, as Redis lists them
  return clients;
}

}  // namespace

void add(Client client) {
  std::lock_guard lock(registry_mutex());
  registry().push_back(std::move(client));
}

void remove(const KvSession& session) {
  std::lock_guard lock(registry_mutex());
  std::erase_if(registry(), [&](const Client& client) { return client.session == &session; });
}

void for_each(const std::function<void(const Client&)>& fn) {
  std::lock_guard lock(registry_mutex());
  for (const Client& client : registry()) fn(client);
}

}  // namespace lf::kv_clients
