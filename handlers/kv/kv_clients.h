// Public. KvClients: the connected clients of the key-value servers in this process, for CLIENT
// LIST, CLIENT INFO and CLIENT KILL (process wide, like INFO's connected_clients). A connection
// registers itself when it opens and leaves when it closes. Thread safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lf/handlers/kv/kv_session.h"
#include "lf/net/inet_address.h"
#include "lf/net/stream_connection.h"

namespace lf::kv_clients {

struct Client {
  const KvSession* session;
  std::weak_ptr<StreamConnection> connection;  // to close it from another thread
  // For output_bytes() under the registry's lock, without taking a reference (releasing the last
  // one there would destroy the connection, whose session then waits for that lock). Valid
  // while registered: the session, a member of the connection, leaves the registry before the
  // StreamConnection base is destroyed.
  const StreamConnection* stream;
  std::string peer;   // "127.0.0.1:5000"
  std::string local;  // "127.0.0.1:6380"
  int fd;
};

void add(Client client);
void remove(const KvSession& session);
// Calls fn(client) for each registered client, under the registry's lock (keep it short; do
// not add or remove from fn).
void for_each(const std::function<void(const Client&)>& fn);

}  // namespace lf::kv_clients
