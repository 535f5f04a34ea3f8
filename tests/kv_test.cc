// The key-value server over raw sockets: every reply byte for byte as Redis 7 sends it (values,
// errors), pipelining, QUIT, lazy and active expiry, and hostile input (a huge bulk or
// multibulk length, garbage, unbalanced quotes) refused with Redis's protocol error, then closed,
// without buffering what was announced.
#include <gtest/gtest.h>

#include <chrono>
#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "lf/handlers/kv/command_meta.h"
#include "lf/handlers/kv/command_request.h"
#include "lf/handlers/kv/kv_commands.h"
#include "support/kv_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

using test::KvServer;

// Reads one complete RESP reply and returns its bytes.
std::optional<std::string> read_reply(test::TestClient& client) {
  std::string line;
  while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
    auto byte = client.recv_exact(1);
    if (!byte) return std::nullopt;
    line += *byte;
  }
  const bool aggregate = line[0] == '$' || line[0] == '*';
  const long long n = aggregate ? std::stoll(line.substr(1, line.size() - 3)) : 0;
  if (line[0] == '$' && n >= 0) {
    auto data = client.recv_exact(static_cast<std::size_t>(n) + 2);
    if (!data) return std::nullopt;
    return line + *data;
  }
  if (line[0] == '*') {
    for (long long i = 0; i < n; ++i) {
      auto element = read_reply(client);
      if (!element) return std::nullopt;
      line += *element;
    }
  }
  return line;
}

// A client that sends a request and returns the raw reply.
class Client {
 public:
  explicit Client(const InetAddress& address) : client_(address, 10s) {}
  std::string operator()(std::string_view request) {
    EXPECT_TRUE(client_.send_all(request));
    auto reply = read_reply(client_);
    return reply.value_or("<no reply>");
  }
  test::TestClient& raw() { return client_; }

 private:
  test::TestClient client_;
};

std::string bulk(std::string_view data) {
  return "$" + std::to_string(data.size()) + "\r\n" + std::string(data) + "\r\n";
}

TEST(KvServerTest, BasicCommands) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("PING\r\n"), "+PONG\r\n");
  EXPECT_EQ(redis("*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n"), bulk("hi"));
  EXPECT_EQ(redis("ECHO \"a b\"\r\n"), bulk("a b"));
  EXPECT_EQ(redis("SET k v\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("GET k\r\n"), bulk("v"));
  EXPECT_EQ(redis("GET missing\r\n"), "$-1\r\n");
  EXPECT_EQ(redis("EXISTS k k missing\r\n"), ":2\r\n");
  EXPECT_EQ(redis("DEL k missing\r\n"), ":1\r\n");
  EXPECT_EQ(redis("INCR n\r\n"), ":1\r\n");
  EXPECT_EQ(redis("INCRBY n 41\r\n"), ":42\r\n");
  EXPECT_EQ(redis("DECR n\r\n"), ":41\r\n");
  EXPECT_EQ(redis("DECRBY n -9\r\n"), ":50\r\n");
  EXPECT_EQ(redis("MSET a 1 b 2\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("MGET a nope b\r\n"), "*3\r\n" + bulk("1") + "$-1\r\n" + bulk("2"));
  EXPECT_EQ(redis("DBSIZE\r\n"), ":3\r\n");
  EXPECT_EQ(redis("SELECT 0\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("SELECT 1\r\n"), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(redis("FLUSHDB\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("MSET a 1\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("FLUSHALL ASYNC\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("DBSIZE\r\n"), ":0\r\n");
  EXPECT_EQ(redis("CLIENT GETNAME\r\n"), "$-1\r\n");
  EXPECT_EQ(redis("CLIENT SETNAME bench\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("CLIENT GETNAME\r\n"), bulk("bench"));
  EXPECT_EQ(redis("CONFIG GET save\r\n"), "*2\r\n" + bulk("save") + bulk(""));
  EXPECT_EQ(redis("CONFIG GET appendonly\r\n"), "*2\r\n" + bulk("appendonly") + bulk("no"));
  EXPECT_EQ(redis("CONFIG GET nothing\r\n"), "*0\r\n");
  EXPECT_EQ(redis("COMMAND DOCS get\r\n").substr(0, 18), "*2\r\n" + bulk("get") + "*10\r\n");
  EXPECT_EQ(redis("COMMAND COUNT\r\n"), ":" + std::to_string(command_count()) + "\r\n");
  EXPECT_EQ(redis("HELLO 3\r\n"), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(redis("HELLO 2\r\n").substr(0, 5), "*14\r\n");
  EXPECT_NE(redis("INFO\r\n").find("redis_version:7.0.0-lf"), std::string::npos);
}

// The command table (what runs) and the metadata table (what COMMAND INFO says) agree: every
// command has Redis's metadata, with the arity and key positions the table checks calls by.
TEST(KvServerTest, EveryCommandHasMetadataThatAgreesWithTheTable) {
  for (const CommandSpec& spec : command_table()) {
    const CommandMeta* meta = find_command_meta(spec.name);
    ASSERT_NE(meta, nullptr) << spec.name;
    EXPECT_EQ(meta->name, spec.name);
    EXPECT_EQ(meta->arity, spec.arity) << spec.name;
    EXPECT_EQ(meta->first_key, spec.first_key) << spec.name;
    EXPECT_EQ(meta->last_key, spec.last_key) << spec.name;
    EXPECT_EQ(meta->key_step, spec.key_step) << spec.name;
    EXPECT_FALSE(meta->summary.empty()) << spec.name;
  }
  EXPECT_EQ(find_command_meta("CONFIG|Get")->name, "config|get");
  EXPECT_EQ(find_command_meta("get|x"), nullptr);
  EXPECT_EQ(find_command_meta("config|"), nullptr);
  EXPECT_EQ(find_command_meta(""), nullptr);
}

// Bugs fixed: COMMAND LIST ignored its arguments, SELECT worded an out-of-range index as a
// non-integer, CONFIG GET answered with its own spelling of the name.
TEST(KvServerTest, CommandListSelectConfigGetAsRedis7) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("COMMAND LIST bogus\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("COMMAND LIST FILTERBY BOGUS x\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("COMMAND LIST FILTERBY PATTERN\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("COMMAND LIST FILTERBY ACLCAT nosuch\r\n"), "*0\r\n");
  EXPECT_EQ(redis("COMMAND LIST FILTERBY MODULE nosuch\r\n"), "*0\r\n");
  EXPECT_EQ(redis("COMMAND LIST FILTERBY PATTERN getra*\r\n"), "*1\r\n" + bulk("getrange"));
  const std::string g = redis("COMMAND LIST FILTERBY PATTERN 'g*'\r\n");
  EXPECT_NE(g.find(bulk("get")), std::string::npos) << g;
  EXPECT_NE(g.find(bulk("getdel")), std::string::npos) << g;
  EXPECT_EQ(g.find(bulk("set")), std::string::npos) << g;
  EXPECT_EQ(redis("SELECT 99999999999\r\n"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  EXPECT_EQ(redis("SELECT abc\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(redis("SELECT 0\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("CONFIG GET MAXMEMORY\r\n"), "*2\r\n" + bulk("MAXMEMORY") + bulk("0"));
  EXPECT_EQ(redis("CONFIG GET MAXMEM*\r\n"),
            "*4\r\n" + bulk("maxmemory") + bulk("0") + bulk("maxmemory-policy") + bulk("noeviction"));
}

// A command over more shards than KvStore::kMaxShardLocks takes the whole store instead.
TEST(KvServerTest, CommandsOverManyShards) {
  KvServer server;
  Client redis(server.address());
  std::string mset = "MSET";
  std::string mget = "MGET";
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    mset += " k" + std::to_string(i) + " " + std::to_string(i);
    mget += " k" + std::to_string(i);
    expected += bulk(std::to_string(i));
  }
  EXPECT_EQ(redis(mset + "\r\n"), "+OK\r\n");
  EXPECT_EQ(redis(mget + "\r\n"), "*100\r\n" + expected);
  EXPECT_EQ(redis("MULTI\r\n"), "+OK\r\n");
  EXPECT_EQ(redis(mget + "\r\n"), "+QUEUED\r\n");
  EXPECT_EQ(redis("GET k1\r\n"), "+QUEUED\r\n");
  EXPECT_EQ(redis("EXEC\r\n"), "*2\r\n*100\r\n" + expected + bulk("1"));
  EXPECT_EQ(redis("DEL" + mget.substr(4) + "\r\n"), ":100\r\n");
  EXPECT_EQ(redis("DBSIZE\r\n"), ":0\r\n");
}

TEST(KvServerTest, ClientReplyOffSkipOn) {
  KvServer server;
  Client redis(server.address());
  // OFF and SKIP reply nothing: the first reply read is the one after them.
  EXPECT_TRUE(redis.raw().send_all("CLIENT REPLY SKIP\r\nSET r 1\r\nGET r\r\n"));
  EXPECT_EQ(read_reply(redis.raw()), bulk("1"));
  EXPECT_TRUE(redis.raw().send_all("CLIENT REPLY OFF\r\nSET r 2\r\nGET r\r\nCLIENT REPLY SKIP\r\n"));
  EXPECT_EQ(redis("CLIENT REPLY ON\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("GET r\r\n"), bulk("2"));
  EXPECT_EQ(redis("CLIENT REPLY maybe\r\n"), "-ERR syntax error\r\n");
}

TEST(KvServerTest, ClientListInfoAndKill) {
  KvServer server;
  Client first(server.address());
  Client second(server.address());
  EXPECT_EQ(second("CLIENT SETNAME victim\r\n"), "+OK\r\n");
  const std::string id_reply = second("CLIENT ID\r\n");
  const std::string id = id_reply.substr(1, id_reply.size() - 3);
  const std::string list = first("CLIENT LIST\r\n");
  EXPECT_NE(list.find("id=" + id + " addr=127.0.0.1:"), std::string::npos) << list;
  EXPECT_NE(list.find(" name=victim age="), std::string::npos) << list;
  EXPECT_NE(list.find(" cmd=client|list user=default redir=-1 resp=2\n"), std::string::npos);
  const std::string info = second("CLIENT INFO\r\n");
  EXPECT_NE(info.find("id=" + id + " "), std::string::npos) << info;
  EXPECT_EQ(std::count(info.begin(), info.end(), '\n'), 3) << info;  // header, line, end
  EXPECT_EQ(first("CLIENT KILL ID " + id + "\r\n"), ":1\r\n");
  EXPECT_TRUE(second.raw().wait_for_close());
  EXPECT_EQ(first("CLIENT KILL ID " + id + "\r\n"), ":0\r\n");
  EXPECT_EQ(first("CLIENT KILL 1.2.3.4:5\r\n"), "-ERR No such client\r\n");
  // Killing itself (SKIPME no), a client gets its reply, then the connection closes.
  EXPECT_EQ(first("CLIENT KILL LADDR " + server.address().to_string() + " SKIPME no\r\n"),
            ":1\r\n");
  EXPECT_TRUE(first.raw().wait_for_close());
}

TEST(KvServerTest, InfoSections) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("SET k v\r\n"), "+OK\r\n");
  const std::string all = redis("INFO\r\n");
  for (const char* header : {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Stats\r\n",
                             "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"}) {
    EXPECT_NE(all.find(header), std::string::npos) << header;
  }
  EXPECT_EQ(all.find("# Commandstats"), std::string::npos);  // not in the default set
  const std::string stats = redis("INFO commandstats\r\n");
  EXPECT_NE(stats.find("cmdstat_set:calls="), std::string::npos) << stats;
  EXPECT_EQ(stats.find("# Server"), std::string::npos);
  EXPECT_NE(redis("INFO everything\r\n").find("# Commandstats"), std::string::npos);
  EXPECT_NE(redis("INFO memory\r\n").find("used_memory:"), std::string::npos);
  EXPECT_EQ(redis("INFO nosuchsection\r\n"), bulk(""));
}

TEST(KvServerTest, SetOptionsAsRedis7) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("SET k v NX\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("SET k w NX\r\n"), "$-1\r\n");
  EXPECT_EQ(redis("SET k w XX\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("SET other w XX\r\n"), "$-1\r\n");
  EXPECT_EQ(redis("SET k x GET\r\n"), bulk("w"));
  EXPECT_EQ(redis("SET k y NX GET\r\n"), bulk("x"));  // Redis 7 allows NX with GET
  EXPECT_EQ(redis("GET k\r\n"), bulk("x"));
  EXPECT_EQ(redis("SET k v EX 100\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":100\r\n");
  EXPECT_EQ(redis("SET k v2 KEEPTTL\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":100\r\n");
  EXPECT_EQ(redis("SET k v3\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":-1\r\n");
  EXPECT_EQ(redis("SET k v px 5000 ex 10\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("SET k v EX 10 EX 20\r\n"), "+OK\r\n");  // repeated: the last one wins
  EXPECT_EQ(redis("TTL k\r\n"), ":20\r\n");
  EXPECT_EQ(redis("SET k v NX XX\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("SET k v EX 10 KEEPTTL\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("SET k v EX\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("SET k v FOO\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("SET k v EX 0\r\n"), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(redis("SET k v PX -5\r\n"), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(redis("SET k v EX 9223372036854775\r\n"),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(redis("SET k v EX ten\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(redis("SET k v PXAT 1\r\n"), "+OK\r\n");  // a deadline in the past
  EXPECT_EQ(redis("GET k\r\n"), "$-1\r\n");
}

TEST(KvServerTest, ErrorsWordedAsRedis7) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("foo a b\r\n"), "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(redis("foo\r\n"), "-ERR unknown command 'foo', with args beginning with: \r\n");
  EXPECT_EQ(redis("GET\r\n"), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(redis("get a b\r\n"), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(redis("MSET a 1 b\r\n"), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(redis("PING a b\r\n"), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(redis("SET s abc\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("INCR s\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(redis("INCRBY n x\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(redis("SET n 9223372036854775807\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("INCR n\r\n"), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(redis("DECRBY n -9223372036854775808\r\n"), "-ERR decrement would overflow\r\n");
  EXPECT_EQ(redis("EXPIRE n 10 FOO\r\n"), "-ERR Unsupported option FOO\r\n");
  EXPECT_EQ(redis("EXPIRE n 10 NX XX\r\n"),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(redis("EXPIRE n 10 GT LT\r\n"),
            "-ERR GT and LT options at the same time are not compatible\r\n");
  EXPECT_EQ(redis("EXPIRE n 9223372036854775807\r\n"),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(redis("FLUSHALL now\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(redis("CONFIG FOO\r\n"), "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
  EXPECT_EQ(redis("CONFIG GET\r\n"), "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(redis("CLIENT SETNAME \"a b\"\r\n"),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
}

TEST(KvServerTest, ExpireTtlPersist) {
  KvServer server;
  Client redis(server.address());
  EXPECT_EQ(redis("EXPIRE missing 10\r\n"), ":0\r\n");
  EXPECT_EQ(redis("TTL missing\r\n"), ":-2\r\n");
  EXPECT_EQ(redis("SET k v\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":-1\r\n");
  EXPECT_EQ(redis("EXPIRE k 100 XX\r\n"), ":0\r\n");
  EXPECT_EQ(redis("EXPIRE k 100 NX\r\n"), ":1\r\n");
  EXPECT_EQ(redis("EXPIRE k 50 GT\r\n"), ":0\r\n");
  EXPECT_EQ(redis("EXPIRE k 50 LT\r\n"), ":1\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":50\r\n");
  const std::string pttl = redis("PTTL k\r\n");
  const long long ms = std::stoll(pttl.substr(1));
  EXPECT_GT(ms, 49000);
  EXPECT_LE(ms, 50000);
  EXPECT_EQ(redis("PERSIST k\r\n"), ":1\r\n");
  EXPECT_EQ(redis("PERSIST k\r\n"), ":0\r\n");
  EXPECT_EQ(redis("TTL k\r\n"), ":-1\r\n");
  EXPECT_EQ(redis("PEXPIRE k 100000\r\n"), ":1\r\n");
  EXPECT_EQ(redis("INCR k\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(redis("SET c 1 EX 100\r\n"), "+OK\r\n");
  EXPECT_EQ(redis("INCR c\r\n"), ":2\r\n");
  EXPECT_EQ(redis("TTL c\r\n"), ":100\r\n");  // INCR keeps the deadline
  EXPECT_EQ(redis("EXPIRE k -1\r\n"), ":1\r\n");  // a deadline in the past deletes
  EXPECT_EQ(redis("EXISTS k\r\n"), ":0\r\n");
}

TEST(KvServerTest, LazyExpiry) {
  // No sweep in practice (one run a minute): only access removes the key.
  ExpirySweepOptions sweep;
  sweep.interval = 60s;
  KvServer server({}, sweep);
  Client redis(server.address());
  // The deadline is set when the server handles SET, between `sent` and `stored`: a GET answered
  // before sent + kTtl must find the key. Under load even that round trip can outlast kTtl; such
  // an attempt proves nothing and is repeated (a short fixed PX raced the GET on a busy machine).
  using Clock = std::chrono::steady_clock;
  constexpr auto kTtl = 500ms;
  bool checked = false;
  for (int attempt = 0; attempt < 5 && !checked; ++attempt) {
    const auto sent = Clock::now();
    ASSERT_EQ(redis("SET k v PX 500\r\n"), "+OK\r\n");
    const auto stored = Clock::now();
    const std::string value = redis("GET k\r\n");
    if (Clock::now() >= sent + kTtl - 5ms) {  // 5 ms: the server's clock is in whole ms
      EXPECT_EQ(redis("DEL k\r\n").substr(0, 1), ":");
      continue;
    }
    checked = true;
    EXPECT_EQ(value, bulk("v"));
    std::this_thread::sleep_until(stored + kTtl + 20ms);
    EXPECT_EQ(redis("DBSIZE\r\n"), ":1\r\n");  // still stored, as in Redis
    EXPECT_EQ(redis("GET k\r\n"), "$-1\r\n");
    EXPECT_EQ(redis("DBSIZE\r\n"), ":0\r\n");
  }
  EXPECT_TRUE(checked) << "no attempt read the key back within " << kTtl.count() << " ms";
}

TEST(KvServerTest, ActiveExpirySweepRemovesUntouchedKeys) {
  KvServer server;
  Client redis(server.address());
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += "SET key:" + std::to_string(i) + " v PX 50\r\n";
  batch += "SET keep v\r\n";
  ASSERT_TRUE(redis.raw().send_all(batch));
  for (int i = 0; i <= 2000; ++i) ASSERT_EQ(read_reply(redis.raw()), "+OK\r\n");
  // (The sweep may have started already on a slow machine: no exact count here.) The deadline is
  // generous: only a sweep that never finishes should reach it.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string size;
  while ((size = redis("DBSIZE\r\n")) != ":1\r\n" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(size, ":1\r\n") << "the sweep did not remove the expired keys";
  EXPECT_EQ(server.store().volatile_size(), 0u);
  EXPECT_EQ(redis("GET keep\r\n"), bulk("v"));
}

TEST(KvServerTest, PipelinedRepliesInOrder) {
  KvServer server;
  test::TestClient client(server.address());
  std::string batch;
  constexpr int kCommands = 1000;
  for (int i = 0; i < kCommands; ++i) {
    batch += "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n";
  }
  ASSERT_TRUE(client.send_all(batch));
  for (int i = 1; i <= kCommands; ++i) {
    ASSERT_EQ(read_reply(client), ":" + std::to_string(i) + "\r\n");
  }
}

TEST(KvServerTest, LargeValueInManyReads) {
  KvServer server;
  Client redis(server.address());
  const std::string value = test::random_bytes(3 * 1024 * 1024, 7);
  const std::string request = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n" + bulk(value);
  EXPECT_EQ(redis(request), "+OK\r\n");
  EXPECT_EQ(redis("GET big\r\n"), bulk(value));
}

TEST(KvServerTest, QuitRepliesThenCloses) {
  KvServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.send_all("PING\r\nQUIT\r\nPING\r\n"));
  EXPECT_EQ(client.recv_until_eof(), "+PONG\r\n+OK\r\n");
}

// Resident memory of this process (the server runs in it).
std::size_t resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

// Sends `request` and expects exactly `reply`, then the close.
void expect_error_then_close(const InetAddress& address, std::string_view request,
                             std::string_view reply) {
  test::TestClient client(address);
  ASSERT_TRUE(client.send_all(request));
  EXPECT_EQ(client.recv_until_eof(), reply) << request;
}

TEST(KvServerTest, HostileInputGetsTheProtocolErrorThenClose) {
  KvOptions options;
  options.max_input_buffer = 1024 * 1024;
  KvServer server(options);
  // Built before the first RSS reading: the client's own 1.8 MB does not count.
  std::string many = "*200000\r\n";
  for (int i = 0; i < 200000; ++i) many += "$3\r\nabc\r\n";
  const std::size_t rss_before = resident_kib();
  expect_error_then_close(server.address(), "*1\r\n$1000000000\r\n",
                          "-ERR Protocol error: invalid bulk length\r\n");
  // Under Redis's 512 MiB, above this server's input limit: refused the same way, at once.
  expect_error_then_close(server.address(), "*2\r\n$3\r\nGET\r\n$100000000\r\nabc",
                          "-ERR Protocol error: invalid bulk length\r\n");
  expect_error_then_close(server.address(), "*2000000\r\n",
                          "-ERR Protocol error: invalid multibulk length\r\n");
  expect_error_then_close(server.address(), "*1\r\nx\r\n",
                          "-ERR Protocol error: expected '$', got 'x'\r\n");
  expect_error_then_close(server.address(), "SET k \"unbalanced\r\n",
                          "-ERR Protocol error: unbalanced quotes in request\r\n");
  expect_error_then_close(server.address(), std::string(70 * 1024, 'z'),
                          "-ERR Protocol error: too big inline request\r\n");
  // Replies to the commands before the bad one still arrive, nothing after it runs.
  expect_error_then_close(server.address(), "PING\r\n*1\r\n$x\r\nSET k v\r\n",
                          "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
  // Many small arguments past the input limit: closed without a reply, as Redis does.
  {
    test::TestClient client(server.address());
    (void)client.send_all(many);  // the server may close before it has read everything
    EXPECT_TRUE(client.wait_for_close());
  }
  const std::size_t rss_after = resident_kib();
  // Far below the 95 MiB and 954 MiB announced. ThreadSanitizer adds shadow memory for every byte
  // touched (the 1 MiB input limit, thread stacks) and keeps freed memory, so it gets more room.
#if defined(__SANITIZE_THREAD__)
  constexpr std::size_t kAllowedKib = 64 * 1024;
#else
  constexpr std::size_t kAllowedKib = 32 * 1024;
#endif
  EXPECT_LT(rss_after, rss_before + kAllowedKib) << "the server buffered what was announced";
  Client redis(server.address());
  EXPECT_EQ(redis("GET k\r\n"), "$-1\r\n");  // the SET after the error never ran
  EXPECT_EQ(redis("PING\r\n"), "+PONG\r\n");
}

}  // namespace
}  // namespace lf
