#include "lf/net/tls_client_sessions.h"

#include <openssl/ssl.h>

#include <iterator>

namespace lf {

TlsClientSessions::~TlsClientSessions() {
  for (auto& [server, entry] : sessions_) SSL_SESSION_free(entry.session);
}

void TlsClientSessions::put(const std::string& server, ssl_session_st* session) {
  SSL_SESSION* replaced = nullptr;
  SSL_SESSION* evicted = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (auto found = sessions_.find(server); found != sessions_.end()) {
      replaced = found->second.session;
      found->second.session = session;
      stored_.splice(stored_.end(), stored_, found->second.age);  // now the newest
    } else {
      if (capacity_ == 0) {
        evicted = session;
      } else {
        if (sessions_.size() >= capacity_) {
          auto oldest = sessions_.find(stored_.front());
          evicted = oldest->second.session;
          stored_.pop_front();
          sessions_.erase(oldest);
        }
        stored_.push_back(server);
        sessions_.emplace(server, Entry{session, std::prev(stored_.end())});
      }
    }
  }
  // Freed outside the lock: the last reference frees the session's memory.
  SSL_SESSION_free(replaced);
  SSL_SESSION_free(evicted);
}

ssl_session_st* TlsClientSessions::get(const std::string& server) const {
  std::lock_guard lock(mutex_);
  const auto found = sessions_.find(server);
  if (found == sessions_.end()) return nullptr;
  SSL_SESSION_up_ref(found->second.session);
  return found->second.session;
}

void TlsClientSessions::forget(const std::string& server) {
  SSL_SESSION* dropped = nullptr;
  {
    std::lock_guard lock(mutex_);
    const auto found = sessions_.find(server);
    if (found == sessions_.end()) return;
    dropped = found->second.session;
    stored_.erase(found->second.age);
    sessions_.erase(found);
  }
  SSL_SESSION_free(dropped);
}

std::size_t TlsClientSessions::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace lf
