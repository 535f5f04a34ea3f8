// wrk (the Debian package) against GET /hello for one second with 10 connections: every request
// must be answered 2xx, with no socket errors (connect, read, write or timeout).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <regex>
#include <string>

#include "http/http_test_util.h"

namespace lf::test {
namespace {

TEST(HttpWrk, TenConnectionsOneSecondWithoutErrors) {
  if (run_command("command -v wrk").exit_code != 0) GTEST_SKIP() << "wrk is not installed";
  auto service = std::make_shared<HttpService>();
  service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("Hello, World!", "text/plain");
  });
  HttpTestServer server(service);
  const CommandResult result = run_command("wrk -t1 -c10 -d1s " + server.url("/hello") + " 2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // "  12345 requests in 1.00s, 1.23MB read"
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.output, match, std::regex(R"((\d+) requests in)")))
      << result.output;
  EXPECT_GT(std::stoul(match[1]), 0u) << result.output;
  // wrk prints these lines only when something went wrong; all-zero counts are fine too.
  if (std::regex_search(
          result.output, match,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (std::size_t i = 1; i <= 4; ++i) EXPECT_EQ(match[i], "0") << result.output;
  }
  if (std::regex_search(result.output, match, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    EXPECT_EQ(match[1], "0") << result.output;
  }
  std::cout << result.output;
}

}  // namespace
}  // namespace lf::test
