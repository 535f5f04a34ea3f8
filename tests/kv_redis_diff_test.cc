// The key-value server against a real redis-server 7.0: the same script of commands goes
// through redis-cli (--no-raw, so replies show their types: "(integer) 1", "(nil)", "(error)
// ERR ...") to both, and the outputs must match reply by reply. Replies that are inherently
// different (times, client ids, INFO text) are compared by shape only, those whose order is
// unspecified (KEYS, SCAN) sorted, COMMAND INFO and DOCS without their sentences (lf-kv's are its
// own), and COMMAND LIST among the commands lf-kv has. Skipped when redis-server or redis-cli
// is not installed (Debian: redis-server, redis-tools).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/kv_server.h"
#include "support/test_client.h"

extern char** environ;

namespace lf {
namespace {

using namespace std::chrono_literals;

enum class Compare {
  kExact,      // every line
  kSorted,     // the same lines in any order (array element numbers ignored)
  kLineCount,  // the same number of lines, neither an error
  kFieldNames,  // CLIENT LIST lines: the same "name=" fields in the same order
  kInfoShape,   // INFO: the same "# Section" headers; lf-kv's fields all exist in Redis's
  kProse,       // COMMAND INFO / DOCS: every line, the sentences (summaries, notes) excepted
  kProseSorted,  // as kProse, in any order (a container's subcommands come in hash order)
  kKnownNames,   // COMMAND LIST: the same names, leaving out those of commands lf-kv lacks
};

struct Step {
  std::string command;  // as typed at redis-cli's prompt
  Compare compare = Compare::kExact;
};

using test::installed;

// A shell command with a time limit: its stdout and stderr.
std::string run(const std::string& command) { return test::run_shell(command, 60); }

// A loopback port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// redis-server as a child process, without persistence, stopped (SIGTERM, then SIGKILL) and
// reaped when this goes away; at the latest after 10 minutes.
class RedisServer {
 public:
  RedisServer() : port_(free_port()) {
    const std::string port = std::to_string(port_);
    // Under timeout(1), which passes SIGTERM on: should this process die before its destructor
    // runs (a sanitizer abort), redis-server still goes within minutes.
    std::vector<std::string> args = {"timeout", "--kill-after=5", "600",
                                     "redis-server", "--port", port, "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                                     "--dir", "/tmp", "--loglevel", "warning"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t quiet;  // its log on stdout would clutter the test's
    ::posix_spawn_file_actions_init(&quiet);
    ::posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    const int failed = ::posix_spawnp(&pid_, "timeout", &quiet, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&quiet);
    if (failed != 0) {
      pid_ = -1;
      return;
    }
    for (int i = 0; i < 100 && !ready(); ++i) std::this_thread::sleep_for(50ms);
  }
  ~RedisServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  [[nodiscard]] bool ready() const {
    return pid_ > 0 && run("redis-cli -p " + std::to_string(port_) + " PING") == "PONG\n";
  }
  [[nodiscard]] int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

constexpr std::string_view kSeparator = "--lf-diff-separator--";

// A transaction's replies cannot be told apart by separators (an ECHO in MULTI is queued): the
// steps from MULTI to EXEC or DISCARD form one unit, every other step is a unit of its own.
std::vector<std::size_t> unit_ends(const std::vector<Step>& steps) {
  std::vector<std::size_t> ends;
  bool in_transaction = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string& command = steps[i].command;
    if (command == "MULTI") in_transaction = true;
    if (command == "EXEC" || command == "DISCARD") in_transaction = false;
    if (!in_transaction) ends.push_back(i);
  }
  if (in_transaction) ends.push_back(steps.size() - 1);
  return ends;
}

// Runs the steps through one redis-cli session and returns each unit's output lines.
std::vector<std::vector<std::string>> run_script(int port, const std::vector<Step>& steps) {
  const std::string path = "/tmp/lf-kv-diff-" + std::to_string(::getpid()) + "-" +
                           std::to_string(port) + ".txt";
  {
    std::ofstream script(path);
    const auto ends = unit_ends(steps);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      script << steps[i].command << "\n";
      if (std::find(ends.begin(), ends.end(), i) != ends.end()) {
        script << "ECHO " << kSeparator << "\n";
      }
    }
  }
  const std::string output = run("redis-cli --no-raw -p " + std::to_string(port) + " < " + path);
  std::remove(path.c_str());
  std::vector<std::vector<std::string>> blocks(1);
  std::istringstream lines(output);
  std::string line;
  const std::string separator = "\"" + std::string(kSeparator) + "\"";
  while (std::getline(lines, line)) {
    if (line == separator) {
      blocks.emplace_back();
    } else {
      blocks.back().push_back(line);
    }
  }
  return blocks;
}

// "2) 3) \"k\"" -> "\"k\"": array positions differ when the order does.
std::string without_position(std::string line) {
  for (;;) {
    std::size_t i = 0;
    while (i < line.size() &&
           (line[i] == ' ' || std::isdigit(static_cast<unsigned char>(line[i])))) {
      ++i;
    }
    if (i == 0 || i + 1 >= line.size() || line[i] != ')' || line[i + 1] != ' ') return line;
    line.erase(0, i + 2);
  }
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// "id=3 addr=1.2.3.4:5 name=" -> "id= addr= name=".
std::string field_names(const std::string& line) {
  std::istringstream tokens(line);
  std::string token, names;
  while (tokens >> token) names += token.substr(0, token.find('=') + 1) + " ";
  return names;
}

// INFO's "# Section" headers, and the field names under them.
void info_shape(const std::vector<std::string>& lines, std::vector<std::string>& headers,
                std::vector<std::string>& fields) {
  for (std::string line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind('#', 0) == 0) {
      headers.push_back(line);
    } else if (const auto colon = line.find(':'); colon != std::string::npos) {
      fields.push_back(line.substr(0, colon));
    }
  }
}

// COMMAND DOCS and key specifications have sentences that are lf-kv's own: the value after a
// "summary", "notes" or "replaced_by" field, and each history entry's text (after its version;
// a version after "since" is a fact). Those lines become "<prose>" on both sides.
std::vector<std::string> without_prose(std::vector<std::string> lines) {
  const auto value = [&](std::size_t i) { return without_position(lines[i]); };
  const auto is_version = [](const std::string& text) {
    return text.size() > 2 && text.front() == '"' && text.back() == '"' &&
           text.find_first_not_of("0123456789.", 1) == text.size() - 1;
  };
  std::vector<std::string> masked = lines;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string before = value(i - 1);
    const bool prose_field =
        before == "\"summary\"" || before == "\"notes\"" || before == "\"replaced_by\"";
    const bool history_text = is_version(before) && i >= 2 && value(i - 2) != "\"since\"" &&
                              value(i - 2) != "\"deprecated_since\"";
    if (prose_field || history_text) {
      masked[i] = lines[i].substr(0, lines[i].size() - value(i).size()) + "<prose>";
    }
  }
  return masked;
}

bool is_error(const std::vector<std::string>& lines) {
  return !lines.empty() && lines[0].rfind("(error)", 0) == 0;
}

// The script: every command lf-kv implements, with the errors Redis gives for them.
std::vector<Step> script() {
  using enum Compare;
  return {
      {"FLUSHALL"},
      // Strings.
      {"SET s hello"}, {"GET s"}, {"GET missing"}, {"SET s v XX GET"}, {"SET s v NX"},
      {"SET s v EX 0"}, {"SET s v EX 10 PX 10"}, {"SET s v KEEPTTL EX 1"}, {"SET s v EX abc"},
      {"SETNX s other"}, {"SETNX fresh 1"}, {"SETNX"}, {"SETEX sx 100 v"}, {"TTL sx"},
      {"SETEX sx 0 v"}, {"SETEX sx -5 v"}, {"SETEX sx abc v"}, {"SETEX sx 10"},
      {"PSETEX px 100000 v"}, {"TTL px"}, {"PSETEX px 0 v"}, {"PSETEX px x v"},
      {"GETSET s new"}, {"GETSET nothing v"}, {"GET nothing"},
      {"GETDEL s"}, {"GETDEL s"}, {"EXISTS s"}, {"GETDEL"},
      {"SET g v"}, {"GETEX g"}, {"GETEX g EX 100"}, {"TTL g"}, {"GETEX g PERSIST"}, {"TTL g"},
      {"GETEX g PX 100000"}, {"TTL g"}, {"GETEX g EXAT 4000000000"}, {"EXPIRETIME g"},
      {"GETEX g PXAT 4000000000123"}, {"PEXPIRETIME g"}, {"GETEX g EX 10 PX 10"},
      {"GETEX g PERSIST EX 10"}, {"GETEX g EX 10 PERSIST"}, {"GETEX g KEEPTTL"},
      {"GETEX g EX 0"}, {"GETEX g EX -1"}, {"GETEX g EX abc"}, {"GETEX g EX"}, {"GETEX missing EX 0"},
      {"GETEX missing bogus"}, {"GETEX g EXAT 1"}, {"EXISTS g"},
      {"MSETNX m1 a m2 b"}, {"MGET m1 m2 m3"}, {"MSETNX m2 x m3 y"}, {"MGET m2 m3"},
      {"MSETNX m1"}, {"MSETNX m1 a m2"}, {"MSET m1 a m2"},
      {"APPEND ap hello"}, {"APPEND ap \" world\""}, {"GET ap"}, {"STRLEN ap"}, {"STRLEN missing"},
      {"APPEND ap"},
      {"GETRANGE ap 0 4"}, {"GETRANGE ap -5 -1"}, {"GETRANGE ap 5 2"}, {"GETRANGE ap -1 -5"},
      {"GETRANGE ap 0 -100"}, {"GETRANGE ap -100 100"}, {"GETRANGE ap 100 200"},
      {"GETRANGE missing 0 1"}, {"GETRANGE ap a 1"}, {"GETRANGE ap 0"}, {"SUBSTR ap 0 2"},
      {"SETRANGE sr 5 hi"}, {"GET sr"}, {"STRLEN sr"}, {"SETRANGE sr 0 HELLO"}, {"GET sr"},
      {"SETRANGE sr 1 \"\""}, {"SETRANGE nosr 3 \"\""}, {"EXISTS nosr"}, {"SETRANGE sr -1 x"},
      {"SETRANGE sr 536870912 x"}, {"SETRANGE sr x y"},
      {"SET n 10"}, {"INCR n"}, {"DECR n"}, {"INCRBY n 5"}, {"DECRBY n 3"}, {"DECRBY n x"},
      {"DECRBY n -9223372036854775808"}, {"SET big 9223372036854775807"}, {"INCR big"},
      {"INCRBY s 1"}, {"SET f 10.5"}, {"INCRBYFLOAT f 0.1"}, {"INCRBYFLOAT f -5"},
      {"INCRBYFLOAT f 5.0e3"}, {"INCRBYFLOAT nf 3"}, {"INCRBYFLOAT f abc"},
      {"INCRBYFLOAT f inf"}, {"INCRBYFLOAT f nan"}, {"INCRBYFLOAT ap 1"}, {"INCRBYFLOAT f \" 1\""},
      {"INCRBYFLOAT f 1e400"}, {"SET f 1.5e308"}, {"INCRBYFLOAT f 1.5e308"}, {"INCRBYFLOAT f"},
      {"SET f -0.5"}, {"INCRBYFLOAT f 0.5"}, {"INCRBYFLOAT f 0.1"},
      // The keyspace.
      {"FLUSHALL"}, {"MSET a 1 b 2 c 3"}, {"DEL a b missing"}, {"UNLINK c missing"}, {"DEL"},
      {"UNLINK"}, {"MSET a 1 b 2"}, {"EXISTS a a b x"}, {"TOUCH a b x"}, {"TOUCH"},
      {"TYPE a"}, {"TYPE missing"}, {"HSET h f v"}, {"TYPE h"}, {"TYPE"},
      {"EXPIREAT a 4000000000"}, {"EXPIRETIME a"}, {"PEXPIRETIME a"}, {"TTL a", kLineCount},
      {"PEXPIREAT a 4000000000500"}, {"PEXPIRETIME a"}, {"EXPIRETIME a"},
      {"EXPIREAT a 4000000001 NX"}, {"EXPIREAT a 4000000001 XX"}, {"EXPIREAT a 3000000000 GT"},
      {"EXPIREAT a 3000000000 LT"}, {"EXPIRETIME a"}, {"EXPIREAT a 1 NX XX"},
      {"EXPIREAT a 1 GT LT"}, {"EXPIREAT a 1 FOO"}, {"EXPIREAT a x"}, {"EXPIREAT a"},
      {"EXPIREAT missing 4000000000"}, {"EXPIRETIME missing"}, {"PEXPIRETIME b"},
      {"EXPIREAT a 9223372036854775807"}, {"PEXPIREAT a -1"}, {"EXISTS a"},
      {"EXPIREAT b 1"}, {"EXISTS b"}, {"PEXPIREAT"}, {"EXPIRETIME"},
      {"SET p v EX 100"}, {"PERSIST p"}, {"PERSIST p"}, {"PERSIST missing"}, {"TTL p"},
      {"EXPIRE p 100"}, {"TTL p"}, {"PEXPIRE p 100000 XX"}, {"EXPIRE p 10 GT"}, {"EXPIRE p abc"},
      {"FLUSHALL"}, {"MSET k1 1 k2 2 key3 3 other 4"}, {"HSET hk f v"},
      {"KEYS k*", kSorted}, {"KEYS *", kSorted}, {"KEYS k?", kSorted}, {"KEYS k[12]", kSorted},
      {"KEYS k[^1]"}, {"SET \"\" empty"}, {"KEYS *", kSorted}, {"KEYS ?*", kSorted},
      {"SCAN 0 MATCH * COUNT 1000", kSorted}, {"SCAN 0 MATCH *y* COUNT 1000", kSorted},
      {"DEL \"\""}, {"KEYS k[a-z]*"}, {"KEYS nomatch"}, {"KEYS"}, {"KEYS \"k\\\\*\""},
      {"SCAN 0 COUNT 1000", kSorted}, {"SCAN 0 MATCH k* COUNT 1000", kSorted},
      {"SCAN 0 TYPE hash COUNT 1000"}, {"SCAN 0 TYPE string MATCH o* COUNT 1000"},
      {"SCAN 0 TYPE nosuchtype COUNT 1000"}, {"SCAN 0 COUNT 0"}, {"SCAN 0 COUNT x"},
      {"SCAN 0 MATCH"}, {"SCAN 0 BOGUS x"}, {"SCAN x"}, {"SCAN -1x"}, {"SCAN \" 1\""},
      {"SCAN"},
      {"DBSIZE"}, {"DBSIZE x"},
      {"RENAME k1 k1new"}, {"GET k1new"}, {"EXISTS k1"}, {"RENAME k1 x"}, {"RENAME k2 k2"},
      {"RENAME k2 key3"}, {"GET key3"}, {"RENAMENX key3 other"}, {"RENAMENX key3 key3"},
      {"RENAMENX key3 r3"}, {"RENAMENX missing x"}, {"RENAME k1new"},
      {"SET e v EX 100"}, {"RENAME e e2"}, {"TTL e2"}, {"RENAME hk hk2"}, {"TYPE hk2"},
      {"COPY r3 c3"}, {"GET c3"}, {"COPY r3 c3"}, {"COPY r3 c3 REPLACE"}, {"COPY r3 r3"},
      {"COPY missing c4"}, {"COPY r3 c3 DB 0 REPLACE"}, {"COPY r3 c3 BOGUS"}, {"COPY r3 c3 DB x"},
      {"COPY e2 e3"}, {"TTL e3"}, {"COPY hk2 hk3"}, {"HGETALL hk3"}, {"COPY r3"},
      {"RANDOMKEY", kLineCount}, {"FLUSHDB"}, {"RANDOMKEY"}, {"SET only 1"}, {"RANDOMKEY"},
      {"FLUSHALL ASYNC"}, {"FLUSHDB SYNC"}, {"FLUSHALL bogus"}, {"FLUSHALL SYNC x"}, {"DBSIZE"},
      {"TIME", kLineCount}, {"TIME x"},
      // Hashes.
      {"HSET h f1 v1 f2 v2"}, {"HSET h f1 new f3 v3"}, {"HSET h f1"}, {"HSET h"},
      {"HGET h f1"}, {"HGET h nope"}, {"HGET nohash f"}, {"HMGET h f1 nope f3"},
      {"HMGET nohash a b"}, {"HMSET h f4 v4"}, {"HMSET h f4"}, {"HGETALL h"}, {"HKEYS h"},
      {"HVALS h"}, {"HLEN h"}, {"HLEN nohash"}, {"HEXISTS h f1"}, {"HEXISTS h nope"},
      {"HSTRLEN h f1"}, {"HSTRLEN h nope"}, {"HDEL h f2 nope"}, {"HGETALL h"},
      {"HSET h f2 back"}, {"HKEYS h"}, {"HDEL h f1 f2 f3 f4"}, {"EXISTS h"}, {"HGETALL h"},
      {"HKEYS nohash"}, {"HDEL h"},
      {"HSETNX h a 1"}, {"HSETNX h a 2"}, {"HGET h a"}, {"HSETNX h a"},
      {"HINCRBY h n 5"}, {"HINCRBY h n -7"}, {"HINCRBY h a x"}, {"HINCRBY h n 9223372036854775807"},
      {"HSET h text abc"}, {"HINCRBY h text 1"}, {"HINCRBY h"},
      {"HINCRBYFLOAT h fl 1.5"}, {"HINCRBYFLOAT h fl 0.1"}, {"HINCRBYFLOAT h text 1"},
      {"HINCRBYFLOAT h fl abc"}, {"HINCRBYFLOAT h fl inf"}, {"HINCRBYFLOAT h n 2.5"},
      {"HINCRBYFLOAT h"},
      {"HSCAN h 0"}, {"HSCAN h 0 MATCH f*"}, {"HSCAN h 0 COUNT 1"}, {"HSCAN h 0 COUNT 0"},
      {"HSCAN h 0 TYPE string"}, {"HSCAN h x"}, {"HSCAN nohash 0"}, {"HSCAN h"},
      {"HSCAN h 0 MATCH"},
      // WRONGTYPE, both ways.
      {"SET str v"}, {"HSET str f v"}, {"HGET str f"}, {"HMGET str f"}, {"HGETALL str"},
      {"HDEL str f"}, {"HLEN str"}, {"HKEYS str"}, {"HVALS str"}, {"HEXISTS str f"},
      {"HINCRBY str f 1"}, {"HINCRBYFLOAT str f 1"}, {"HSETNX str f v"}, {"HSCAN str 0"},
      {"HSTRLEN str f"}, {"GET h"}, {"GETDEL h"}, {"GETEX h"}, {"APPEND h x"}, {"STRLEN h"},
      {"GETRANGE h 0 1"}, {"SETRANGE h 0 x"}, {"INCR h"}, {"INCRBYFLOAT h 1"}, {"DECRBY h 1"},
      {"SET h v GET"}, {"GETSET h v"}, {"MGET h str"}, {"SETNX h v"}, {"SET h v"}, {"TYPE h"},
      // Transactions.
      {"FLUSHALL"}, {"MULTI"}, {"SET t 1"}, {"INCR t"}, {"GET t"}, {"EXEC"},
      {"MULTI"}, {"MULTI"}, {"SET t 2"}, {"DISCARD"}, {"GET t"}, {"EXEC"}, {"DISCARD"},
      {"MULTI"}, {"SET t 3"}, {"NOSUCHCOMMAND"}, {"GET"}, {"EXEC"}, {"GET t"},
      {"MULTI"}, {"SET t 4"}, {"INCR t"}, {"HSET t f v"}, {"GET t"}, {"EXEC"},
      {"WATCH t"}, {"SET t 5"}, {"MULTI"}, {"SET t 6"}, {"EXEC"}, {"GET t"},
      {"WATCH t"}, {"MULTI"}, {"SET t 7"}, {"EXEC"}, {"GET t"},
      {"WATCH t"}, {"UNWATCH"}, {"SET t 8"}, {"MULTI"}, {"SET t 9"}, {"EXEC"},
      {"WATCH nokey"}, {"MULTI"}, {"WATCH t"}, {"SET nokey 1"}, {"EXEC"},
      {"WATCH nokey2"}, {"SET nokey2 1"}, {"DEL nokey2"}, {"MULTI"}, {"PING"}, {"EXEC"},
      {"WATCH"}, {"MULTI x"}, {"EXEC x"},
      {"MULTI"}, {"MSET a 1 b 2"}, {"MGET a b"}, {"DBSIZE"}, {"KEYS a"}, {"FLUSHALL"},
      {"DBSIZE"}, {"EXEC"},
      // The server.
      {"SELECT 0"}, {"SELECT 99999999999"}, {"SELECT -99999999999"}, {"SELECT abc"},
      {"SELECT 1.5"}, {"CONFIG GET MAXMEMORY"}, {"CONFIG GET maxmemory"},
      {"CONFIG GET maxmemory-policy"}, {"CONFIG GET appendonly"}, {"CONFIG GET nosuchparam"},
      {"COMMAND LIST bogus"}, {"COMMAND LIST FILTERBY PATTERN getra*"},
      {"COMMAND LIST FILTERBY PATTERN GETDE?"}, {"COMMAND LIST FILTERBY ACLCAT nosuch"},
      {"COMMAND LIST FILTERBY MODULE nosuch"}, {"COMMAND LIST FILTERBY BOGUS x"},
      {"COMMAND LIST FILTERBY PATTERN"}, {"COMMAND LIST FILTERBY PATTERN a b"},
      {"COMMAND GETKEYS SET k v"}, {"COMMAND GETKEYS MSET a 1 b 2"}, {"COMMAND GETKEYS GET"},
      {"COMMAND GETKEYS PING"}, {"COMMAND GETKEYS PING x"}, {"COMMAND GETKEYS GET a b"},
      {"COMMAND GETKEYS NOSUCH a"}, {"COMMAND GETKEYS"},
      {"COMMAND GETKEYS RENAME a b"}, {"COMMAND GETKEYS HSET h f v"},
      {"COMMAND COUNT", kLineCount}, {"COMMAND BOGUS"}, {"CLIENT ID", kLineCount},
      {"CLIENT SETNAME conformance"}, {"CLIENT GETNAME"}, {"CLIENT SETNAME \"a b\""},
      {"HELLO 4"}, {"HELLO 2", kLineCount}, {"HELLO x"}, {"HELLO 2 BOGUS"},
      {"ECHO hi"}, {"PING"}, {"PING a b"},
      {"CLIENT LIST", kFieldNames}, {"CLIENT INFO", kFieldNames}, {"CLIENT LIST TYPE replica"},
      {"CLIENT LIST TYPE normal", kFieldNames}, {"CLIENT LIST TYPE bogus"},
      {"CLIENT LIST ID 1 x"}, {"CLIENT LIST ID 99999"}, {"CLIENT LIST x"},
      {"CLIENT KILL 1.2.3.4:5"}, {"CLIENT KILL ID 99999"}, {"CLIENT KILL ID 0"},
      {"CLIENT KILL ID x"}, {"CLIENT KILL TYPE bogus x"}, {"CLIENT KILL TYPE master"},
      {"CLIENT KILL USER nobody"}, {"CLIENT KILL SKIPME maybe"}, {"CLIENT KILL ID 1 x"},
      {"CLIENT KILL ADDR 1.2.3.4:5 SKIPME yes"}, {"CLIENT KILL BOGUS x"}, {"CLIENT KILL"},
      {"CLIENT REPLY bogus"}, {"CLIENT REPLY"}, {"CLIENT BOGUS"}, {"CLIENT ID x"},
      {"CLIENT GETNAME x"}, {"CLIENT SETNAME"},
      {"INFO server", kInfoShape}, {"INFO clients", kInfoShape}, {"INFO memory", kInfoShape},
      {"INFO stats", kInfoShape}, {"INFO commandstats", kInfoShape}, {"SET kept 1"},
      {"INFO keyspace", kInfoShape}, {"INFO SERVER keyspace", kInfoShape}, {"INFO bogus"},
      {"COMMAND INFO nosuchcommand"}, {"COMMAND DOCS nosuchcommand"}, {"COMMAND COUNT x"},
  };
}

// Compares the two servers' outputs of `steps` unit by unit, as each unit's last step says.
// `known`: the command names lf-kv has (for kKnownNames).
void expect_same_replies(const std::vector<Step>& steps,
                         const std::vector<std::vector<std::string>>& expected,
                         const std::vector<std::vector<std::string>>& actual,
                         const std::vector<std::string>& known) {
  const auto ends = unit_ends(steps);
  ASSERT_EQ(expected.size(), ends.size() + 1) << "redis-server's output did not split";
  ASSERT_EQ(actual.size(), ends.size() + 1) << "lf-kv's output did not split";
  std::size_t first = 0;
  for (std::size_t unit = 0; unit < ends.size(); ++unit) {
    std::string commands;
    for (std::size_t i = first; i <= ends[unit]; ++i) commands += steps[i].command + "; ";
    first = ends[unit] + 1;
    const Compare compare = steps[ends[unit]].compare;
    auto want = expected[unit];
    auto got = actual[unit];
    switch (compare) {
      case Compare::kExact:
        EXPECT_EQ(joined(got), joined(want)) << commands;
        break;
      case Compare::kSorted:
        for (auto* lines : {&want, &got}) {
          std::transform(lines->begin(), lines->end(), lines->begin(), without_position);
          std::sort(lines->begin(), lines->end());
        }
        EXPECT_EQ(joined(got), joined(want)) << commands;
        break;
      case Compare::kFieldNames:
        ASSERT_EQ(got.size(), want.size()) << commands << "\n" << joined(got);
        for (std::size_t line = 0; line < got.size(); ++line) {
          EXPECT_EQ(field_names(got[line]), field_names(want[line])) << commands;
        }
        break;
      case Compare::kInfoShape: {
        std::vector<std::string> got_headers, got_fields, want_headers, want_fields;
        info_shape(got, got_headers, got_fields);
        info_shape(want, want_headers, want_fields);
        EXPECT_EQ(got_headers, want_headers) << commands << "\n" << joined(got);
        for (const std::string& name : got_fields) {
          if (name.rfind("cmdstat_", 0) == 0) continue;  // Redis names subcommands apart
          EXPECT_NE(std::find(want_fields.begin(), want_fields.end(), name), want_fields.end())
              << commands << ": Redis has no field " << name;
        }
        break;
      }
      case Compare::kProse:
        EXPECT_EQ(joined(without_prose(got)), joined(without_prose(want))) << commands;
        break;
      case Compare::kProseSorted:
        want = without_prose(want);
        got = without_prose(got);
        for (auto* lines : {&want, &got}) {
          std::transform(lines->begin(), lines->end(), lines->begin(), without_position);
          std::sort(lines->begin(), lines->end());
        }
        EXPECT_EQ(joined(got), joined(want)) << commands;
        break;
      case Compare::kKnownNames: {
        // redis-cli numbers the lines: 1) "get"
        const auto name_of = [](const std::string& line) {
          const std::string text = without_position(line);
          return text.size() >= 2 ? text.substr(1, text.size() - 2) : text;
        };
        std::vector<std::string> want_names, got_names;
        for (const std::string& line : want) {
          if (line == "(empty array)") continue;
          const std::string name = name_of(line);
          if (std::find(known.begin(), known.end(), name) != known.end()) want_names.push_back(name);
        }
        for (const std::string& line : got) {
          if (line != "(empty array)") got_names.push_back(name_of(line));
        }
        std::sort(want_names.begin(), want_names.end());
        std::sort(got_names.begin(), got_names.end());
        EXPECT_EQ(got_names, want_names) << commands;
        break;
      }
      case Compare::kLineCount:
        EXPECT_FALSE(is_error(got)) << commands << "\n" << joined(got);
        EXPECT_FALSE(is_error(want)) << commands;
        EXPECT_EQ(got.size(), want.size())
            << commands << "\nlf-kv:\n" << joined(got) << "redis-server:\n" << joined(want);
        break;
    }
  }
}

// Why these tests cannot run here, or "" if they can.
std::string missing_redis_7() {
  if (!installed("redis-server") || !installed("redis-cli")) {
    return "redis-server or redis-cli is not installed (Debian: redis-server, redis-tools; "
           "install-deps.sh installs them)";
  }
  const std::string version = run("redis-server --version");
  if (version.find("v=7.0.") == std::string::npos) {
    return "these scripts are written against Redis 7.0, found: " + version;
  }
  return "";
}

// The lines of a shell command's output.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

TEST(KvRedisDiff, SameRepliesAsRedisServer7) {
  if (const std::string why = missing_redis_7(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis;
  ASSERT_TRUE(redis.ready()) << "redis-server did not start";
  test::KvServer lf_kv;
  const std::vector<Step> steps = script();
  const auto expected = run_script(redis.port(), steps);
  const auto actual = run_script(lf_kv.port(), steps);
  expect_same_replies(steps, expected, actual, {});
}

// COMMAND INFO and COMMAND DOCS of every command and subcommand lf-kv lists describe it as Redis
// 7.0 does (sentences aside); COMMAND LIST's filters pick the same ones among them; COMMAND COUNT
// counts as Redis counts (commands, not subcommands).
TEST(KvRedisDiff, CommandMetadataAsRedisServer7) {
  if (const std::string why = missing_redis_7(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis;
  ASSERT_TRUE(redis.ready()) << "redis-server did not start";
  test::KvServer lf_kv;
  const auto cli = [](int port) { return "redis-cli -p " + std::to_string(port) + " "; };
  const std::vector<std::string> names = lines_of(run(cli(lf_kv.port()) + "COMMAND LIST"));
  ASSERT_GT(names.size(), 70u);
  const auto has_subcommands = [&](const std::string& name) {
    return std::any_of(names.begin(), names.end(),
                       [&](const std::string& other) { return other.rfind(name + "|", 0) == 0; });
  };
  using enum Compare;
  std::vector<Step> steps;
  for (const std::string& name : names) {
    const Compare compare = has_subcommands(name) ? kProseSorted : kProse;
    steps.push_back({"COMMAND INFO " + name, compare});
    steps.push_back({"COMMAND DOCS " + name, compare});
  }
  const std::vector<Step> more = {
      {"COMMAND INFO get nosuch config|get SET", kProse}, {"COMMAND INFO get|x"},
      {"COMMAND INFO CONFIG|GET", kProse}, {"COMMAND DOCS get nosuch hset", kProse},
      {"COMMAND DOCS nosuch"}, {"COMMAND DOCS client|list", kProse},
      {"COMMAND LIST", kKnownNames}, {"COMMAND LIST FILTERBY ACLCAT string", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT HASH", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT keyspace", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT fast", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT slow", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT write", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT read", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT connection", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT transaction", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT admin", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT Dangerous", kKnownNames},
      {"COMMAND LIST FILTERBY ACLCAT @string"}, {"COMMAND LIST FILTERBY ACLCAT nosuch"},
      {"COMMAND LIST FILTERBY PATTERN config*", kKnownNames},
      {"COMMAND LIST FILTERBY PATTERN *|*", kKnownNames},
      {"COMMAND LIST FILTERBY PATTERN CLIENT|K*", kKnownNames},
      {"COMMAND LIST FILTERBY PATTERN *get*", kKnownNames},
      {"COMMAND LIST FILTERBY PATTERN nosuch*"}, {"COMMAND COUNT", kLineCount},
  };
  steps.insert(steps.end(), more.begin(), more.end());
  const auto expected = run_script(redis.port(), steps);
  const auto actual = run_script(lf_kv.port(), steps);
  expect_same_replies(steps, expected, actual, names);

  // COMMAND COUNT: the commands of COMMAND LIST, without their subcommands, on both servers.
  for (const int port : {redis.port(), lf_kv.port()}) {
    const auto listed = lines_of(run(cli(port) + "COMMAND LIST"));
    const auto commands = std::count_if(listed.begin(), listed.end(), [](const std::string& name) {
      return name.find('|') == std::string::npos;
    });
    EXPECT_EQ(run(cli(port) + "COMMAND COUNT"), std::to_string(commands) + "\n") << port;
  }
}

}  // namespace
}  // namespace lf
