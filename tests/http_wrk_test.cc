// wrk (the Debian package) against GET /hello for one second with 10 connections: every request
// must be answered 2xx, with no socket errors (connect, read, write or timeout).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "http/http_test_util.h"
#include "support/wrk.h"

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
  expect_wrk_ran_cleanly(result.output);
  std::cout << result.output;
}

}  // namespace
}  // namespace lf::test
