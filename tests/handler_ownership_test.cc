// A handler the framework cannot own (a second std::enable_shared_from_this base makes
// std::make_shared set neither) is refused with a clear error: at compile time by Server's
// templates, at run time, for a hand-written factory, by a log line naming the fix, while the
// server keeps serving the handlers it can own.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "lf/net/stream_connection.h"
#include "lf/server.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

class Echo : public StreamConnection {
 protected:
  void on_message(Buffer& input) override { send(input); }
};

// The mistake: its own enable_shared_from_this besides EventHandler's.
class SharedTwice : public StreamConnection, public std::enable_shared_from_this<SharedTwice> {
 protected:
  void on_message(Buffer& input) override { send(input); }
};

// What Server::listen<Handler> checks at compile time (it would not compile with SharedTwice).
static_assert(std::is_convertible_v<SharedTwice*, std::enable_shared_from_this<SharedTwice>*>);
static_assert(!std::is_convertible_v<Echo*, std::enable_shared_from_this<Echo>*>);

ServerOptions options() {
  ServerOptions o;
  o.threads = 2;
  o.handle_signals = false;
  return o;
}

TEST(HandlerOwnership, AHandlerNobodyOwnsIsRefusedWithAClearLogLineAndTheServerGoesOn) {
  auto make_bad = [] { return std::make_shared<SharedTwice>(); };
  const auto probe = make_bad();
  ASSERT_TRUE(static_cast<EventHandler&>(*probe).weak_from_this().expired())
      << "make_shared set EventHandler's owner after all: the test no longer shows the mistake";

  testing::internal::CaptureStderr();  // before log::init(), lines go to stderr at once
  test::RunningServer bad(make_bad, options());
  test::RunningServer good(test::factory_of<Echo>(), options());
  {
    test::TestClient client(bad.address());
    ASSERT_TRUE(client.connected());
    EXPECT_TRUE(client.wait_for_close()) << "the unowned connection was not closed";
  }
  {
    test::TestClient client(good.address());
    ASSERT_TRUE(client.send_all("still serving"));
    EXPECT_EQ(client.recv_exact(13), "still serving");
  }
  bad.stop();
  good.stop();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("could not open an accepted connection"), std::string::npos) << log;
  EXPECT_NE(log.find("create it with std::make_shared"), std::string::npos) << log;
  EXPECT_EQ(bad.server().connections(), 0u);
}

}  // namespace
}  // namespace lf
