// CLIENT LIST's memory figures are the connection's real ones, read from another connection's
// thread: input waiting for the rest of a command shows in qbuf, answers the client has not read
// in omem, and both in tot-mem; an idle client shows neither.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/kv_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

// A bulk reply's contents ("$5\r\nhello\r\n" -> "hello"), or "" on a timeout or another reply.
std::string read_bulk(test::TestClient& client) {
  std::string header;
  while (header.size() < 2 || header.compare(header.size() - 2, 2, "\r\n") != 0) {
    const auto byte = client.recv_exact(1);
    if (!byte) return "";
    header += *byte;
  }
  if (header[0] != '$') return "";
  const auto body = client.recv_exact(std::stoul(header.substr(1)) + 2);
  return body ? body->substr(0, body->size() - 2) : "";
}

// A client's id, from CLIENT ID.
long long client_id(test::TestClient& client) {
  if (!client.send_all("CLIENT ID\r\n")) return -1;
  std::string reply;
  while (reply.empty() || reply.back() != '\n') {
    const auto byte = client.recv_exact(1);
    if (!byte) return -1;
    reply += *byte;
  }
  return std::stoll(reply.substr(1));
}

// A number field of a CLIENT LIST line ("qbuf"), or -1 if the line has none.
long long field(const std::string& line, const std::string& name) {
  const auto at = line.find(" " + name + "=");
  if (at == std::string::npos) return -1;
  return std::stoll(line.substr(at + name.size() + 2));
}

// Watches other clients through CLIENT LIST ID, as an operator's redis-cli would.
class Observer {
 public:
  explicit Observer(const InetAddress& server) : client_(server) {}
  std::string line_of(long long id) {
    if (!client_.send_all("CLIENT LIST ID " + std::to_string(id) + "\r\n")) return "";
    return read_bulk(client_);
  }

 private:
  test::TestClient client_;
};

TEST(KvClientList, IdleClientHoldsNoInputAndOwesNoOutput) {
  test::KvServer server;
  test::TestClient idle(server.address());
  const long long id = client_id(idle);
  Observer observer(server.address());
  // The reply to CLIENT ID may arrive before the connection has published its figures, and
  // before it has handed its buffers back at the end of that round: wait for all of them.
  std::string line;
  EXPECT_TRUE(test::wait_until([&] {
    line = observer.line_of(id);
    return field(line, "qbuf") == 0 && field(line, "qbuf-free") == 0 && field(line, "omem") == 0 &&
           field(line, "oll") == 0 && field(line, "obl") == 0;
  })) << line;
  EXPECT_EQ(field(line, "qbuf-free"), 0) << line;
  EXPECT_EQ(field(line, "omem"), 0) << line;
  EXPECT_EQ(field(line, "oll"), 0) << line;
  EXPECT_EQ(field(line, "obl"), 0) << line;
  EXPECT_GT(field(line, "tot-mem"), 0) << line;  // the connection itself
}

TEST(KvClientList, PartialCommandShowsInQbufUntilItIsComplete) {
  test::KvServer server;
  test::TestClient writer(server.address());
  const long long id = client_id(writer);
  Observer observer(server.address());
  // A SET whose value has not all arrived: the server keeps what it has and waits.
  const std::string partial = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc";
  ASSERT_TRUE(writer.send_all(partial));
  std::string line;
  EXPECT_TRUE(test::wait_until([&] {
    line = observer.line_of(id);
    return field(line, "qbuf") == static_cast<long long>(partial.size());
  })) << line;
  EXPECT_GT(field(line, "qbuf-free"), 0) << line;
  EXPECT_GE(field(line, "tot-mem"), field(line, "qbuf") + field(line, "qbuf-free")) << line;

  ASSERT_TRUE(writer.send_all("defghij\r\n"));
  EXPECT_EQ(writer.recv_exact(5), "+OK\r\n");
  EXPECT_TRUE(test::wait_until([&] {
    line = observer.line_of(id);
    return field(line, "qbuf") == 0;
  })) << line;
  EXPECT_EQ(field(line, "qbuf-free"), 0) << line;
}

TEST(KvClientList, AnswersNotReadShowInOmemUntilTheClientReadsThem) {
  constexpr std::size_t kValue = 1024 * 1024;
  constexpr std::size_t kGets = 40;  // 40 MiB of answers: more than the socket buffers take
  test::KvServer server;
  test::TestClient reader(server.address(), 30s);
  const long long id = client_id(reader);
  const std::string value = test::random_bytes(kValue, 7);
  ASSERT_TRUE(reader.send_all("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + std::to_string(kValue) +
                              "\r\n" + value + "\r\n"));
  ASSERT_EQ(reader.recv_exact(5), "+OK\r\n");
  std::string gets;
  for (std::size_t i = 0; i < kGets; ++i) gets += "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  ASSERT_TRUE(reader.send_all(gets));

  // The client reads nothing: what the kernel does not take waits in the connection's output.
  Observer observer(server.address());
  std::string line;
  EXPECT_TRUE(test::wait_until(
      [&] {
        line = observer.line_of(id);
        return field(line, "qbuf") == 0 &&
               field(line, "omem") > static_cast<long long>(kGets / 2 * kValue);
      },
      30s))
      << line;
  EXPECT_EQ(field(line, "oll"), 1) << line;
  EXPECT_GE(field(line, "tot-mem"), field(line, "omem")) << line;

  const std::string answer = "$" + std::to_string(kValue) + "\r\n" + value + "\r\n";
  for (std::size_t i = 0; i < kGets; ++i) ASSERT_EQ(reader.recv_exact(answer.size()), answer) << i;
  EXPECT_TRUE(test::wait_until([&] {
    line = observer.line_of(id);
    return field(line, "omem") == 0;
  })) << line;
  EXPECT_EQ(field(line, "oll"), 0) << line;
}

}  // namespace
}  // namespace lf
