// TlsClientSessions, the client contexts' cache of sessions to resume: one per server, the
// latest kept, the one stored longest ago dropped beyond the capacity. Every reference the cache
// takes or hands out is released: under AddressSanitizer a reference too many is a leak report
// and one too few a use after free.
#include "lf/net/tls_client_sessions.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace lf {
namespace {

// An empty session (SSL_SESSION_new), held by the test until its end.
class CountedSession {
 public:
  CountedSession() : session_(SSL_SESSION_new()) {}
  ~CountedSession() { SSL_SESSION_free(session_); }
  CountedSession(const CountedSession&) = delete;
  CountedSession& operator=(const CountedSession&) = delete;

  // A reference for the cache to take over (put() keeps it).
  [[nodiscard]] SSL_SESSION* reference() const {
    SSL_SESSION_up_ref(session_);
    return session_;
  }
  [[nodiscard]] SSL_SESSION* get() const noexcept { return session_; }

 private:
  SSL_SESSION* session_;
};

TEST(TlsClientSessions, KeepsTheLatestSessionPerServer) {
  TlsClientSessions sessions(4);
  const CountedSession first;
  const CountedSession second;
  EXPECT_EQ(sessions.get("a"), nullptr);
  sessions.put("a", first.reference());
  SSL_SESSION* got = sessions.get("a");
  EXPECT_EQ(got, first.get());
  SSL_SESSION_free(got);
  sessions.put("a", second.reference());  // a new ticket from the same server replaces the old
  got = sessions.get("a");
  EXPECT_EQ(got, second.get());
  SSL_SESSION_free(got);
  EXPECT_EQ(sessions.size(), 1u);
}

TEST(TlsClientSessions, DropsTheServerStoredLongestAgoBeyondItsCapacity) {
  TlsClientSessions sessions(2);
  const CountedSession a;
  const CountedSession b;
  const CountedSession c;
  sessions.put("a", a.reference());
  sessions.put("b", b.reference());
  sessions.put("a", a.reference());  // stored again: now b is the oldest
  sessions.put("c", c.reference());
  EXPECT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions.get("b"), nullptr) << "the oldest server was kept";
  for (const char* server : {"a", "c"}) {
    SSL_SESSION* got = sessions.get(server);
    EXPECT_NE(got, nullptr) << server;
    SSL_SESSION_free(got);
  }
}

TEST(TlsClientSessions, ForgetsAServerAndKeepsNothingWithoutCapacity) {
  TlsClientSessions sessions(2);
  const CountedSession a;
  sessions.put("a", a.reference());
  sessions.forget("a");
  sessions.forget("never stored");
  EXPECT_EQ(sessions.get("a"), nullptr);
  EXPECT_EQ(sessions.size(), 0u);
  TlsClientSessions none(0);
  none.put("a", a.reference());
  EXPECT_EQ(none.get("a"), nullptr);
  EXPECT_EQ(none.size(), 0u);
}

}  // namespace
}  // namespace lf
