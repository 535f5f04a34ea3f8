// Internal. TlsClientSessions: the TLS sessions a client context keeps so that its next
// connection to the same server resumes instead of making a full handshake (as curl's session
// cache and nginx's proxy_ssl_session_reuse do). One session per server, keyed by the address
// connected to and the name verified; the latest one the server sent (TLS 1.3 sends its tickets
// after the handshake, so a session is kept once the connection has read them). At most
// `capacity` servers: storing for a new one beyond it drops the one stored longest ago. Thread
// safe: every connection of every thread made with the context shares it.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

struct ssl_session_st;

namespace lf {

class TlsClientSessions {
 public:
  explicit TlsClientSessions(std::size_t capacity) : capacity_(capacity) {}
  ~TlsClientSessions();
  TlsClientSessions(const TlsClientSessions&) = delete;
  TlsClientSessions& operator=(const TlsClientSessions&) = delete;

  // Keeps `session` for `server`, taking over the caller's reference to it, in place of the one
  // kept before.
  void put(const std::string& server, ssl_session_st* session);
  // The session to resume `server` with, with a reference the caller must release
  // (SSL_SESSION_free), or null.
  [[nodiscard]] ssl_session_st* get(const std::string& server) const;
  // Drops `server`'s session (its handshake failed: the next one starts afresh).
  void forget(const std::string& server);
  [[nodiscard]] std::size_t size() const;

 private:
  struct Entry {
    ssl_session_st* session;
    std::list<std::string>::iterator age;  // its place in stored_
  };

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<std::string> stored_;  // servers, the one stored longest ago first
  std::unordered_map<std::string, Entry> sessions_;
};

}  // namespace lf
