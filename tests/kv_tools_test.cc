// The key-value server driven by Redis's own tools as child processes: redis-cli (one command
// per run, commands on stdin, and the error text it prints) and redis-benchmark (GET, SET, INCR
// and MSET, pipelined 16 deep: every test must report its rate and none may report an error).
// Skipped when the tools are not installed (Debian: redis-tools).
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/kv_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using test::KvServer;

// A shell command with a time limit: its stdout and stderr.
std::string run(const std::string& command) { return test::run_shell(command, 120); }
using test::installed;

TEST(KvRedisCli, CommandsAsArguments) {
  if (!installed("redis-cli")) GTEST_SKIP() << "redis-cli is not installed";
  KvServer server;
  const std::string cli = "redis-cli -p " + std::to_string(server.port()) + " ";
  EXPECT_EQ(run(cli + "PING"), "PONG\n");
  EXPECT_EQ(run(cli + "SET greeting 'hello world'"), "OK\n");
  EXPECT_EQ(run(cli + "GET greeting"), "hello world\n");
  EXPECT_EQ(run(cli + "GET missing"), "\n");  // nil prints as an empty line when not a tty
  EXPECT_EQ(run(cli + "INCR visits"), "1\n");
  EXPECT_EQ(run(cli + "INCRBY visits 10"), "11\n");
  EXPECT_EQ(run(cli + "EXPIRE greeting 100"), "1\n");
  EXPECT_EQ(run(cli + "TTL greeting"), "100\n");
  EXPECT_EQ(run(cli + "MSET a 1 b 2 c 3"), "OK\n");
  EXPECT_EQ(run(cli + "MGET a b nope c"), "1\n2\n\n3\n");
  EXPECT_EQ(run(cli + "DBSIZE"), "5\n");
  // Not on a terminal, redis-cli prints an empty line after an error (with Redis too).
  EXPECT_EQ(run(cli + "foo a b"),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' \n\n");
  EXPECT_EQ(run(cli + "GET"), "ERR wrong number of arguments for 'get' command\n\n");
  EXPECT_NE(run(cli + "INFO server").find("redis_version:7.0.0-lf"), std::string::npos);
}

TEST(KvRedisCli, CommandsOnStdin) {
  if (!installed("redis-cli")) GTEST_SKIP() << "redis-cli is not installed";
  KvServer server;
  const std::string output =
      run("printf 'SET k v\\nGET k\\nDEL k\\nEXISTS k\\n' | redis-cli -p " + std::to_string(server.port()));
  EXPECT_EQ(output, "OK\nv\n1\n0\n");
}

TEST(KvRedisCli, PipeMode) {
  if (!installed("redis-cli")) GTEST_SKIP() << "redis-cli is not installed";
  KvServer server;
  // --pipe sends raw RESP and checks every reply (it appends an ECHO of its own).
  std::string commands;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    commands += "*3\\r\\n$3\\r\\nSET\\r\\n$" + std::to_string(key.size()) + "\\r\\n" + key +
                "\\r\\n$1\\r\\nv\\r\\n";
  }
  const std::string output =
      run("printf '" + commands + "' | redis-cli --pipe -p " + std::to_string(server.port()));
  EXPECT_NE(output.find("errors: 0, replies: 1000"), std::string::npos) << output;
  EXPECT_EQ(server.store().size(), 1000u);
}

TEST(KvRedisBenchmark, GetSetIncrMsetPipelinedWithoutErrors) {
  if (!installed("redis-benchmark")) GTEST_SKIP() << "redis-benchmark is not installed";
  KvServer server;
  const std::string output = run("redis-benchmark -p " + std::to_string(server.port()) +
                                 " -t get,set,incr,mset -n 20000 -P 16 -q");
  // With -q each test prints "NAME: <rate> requests per second, ..." (progress lines end in CR).
  std::vector<std::string> rates;
  std::string line;
  std::istringstream lines(output);
  while (std::getline(lines, line)) {
    std::istringstream parts(line);
    std::string part;
    while (std::getline(parts, part, '\r')) {
      if (part.find("requests per second") != std::string::npos) rates.push_back(part);
      EXPECT_EQ(part.find("ERR"), std::string::npos) << part;
      EXPECT_EQ(part.find("rror"), std::string::npos) << part;  // Error, error
    }
  }
  std::printf("%s", output.c_str());
  ASSERT_EQ(rates.size(), 4u) << output;
  for (const char* test : {"SET:", "GET:", "INCR:", "MSET (10 keys):"}) {
    bool found = false;
    for (const std::string& rate : rates) found = found || rate.find(test) != std::string::npos;
    EXPECT_TRUE(found) << test << " missing in:\n" << output;
  }
}

}  // namespace
}  // namespace lf
