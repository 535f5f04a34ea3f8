// HttpConnection on real sockets: curl for the ordinary cases (status, headers, body, keep-alive
// reuse, POST with Content-Length and chunked bodies, /metrics), raw sockets for what curl will
// not send (every malformed or over-limit request, slow headers, pipelining, HTTP/1.0, a request
// dribbled byte by byte, Expect: 100-continue).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/http_test_util.h"

namespace lf::test {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<HttpService> make_service(HttpOptions options = {}) {
  auto service = std::make_shared<HttpService>(std::move(options));
  HttpRouter& router = service->router();
  router.get("/hello", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("Hello, World!", "text/plain");
  });
  const auto echo = [](const HttpRequest& request, HttpResponse& response) {
    response.set_body(std::string(request.body), "application/octet-stream");
    response.add_header("X-Method", std::string(to_string(request.method)));
    response.add_header("X-Trailers", std::to_string(request.trailers.size()));
    if (!request.trailers.empty()) {
      response.add_header("X-First-Trailer", std::string(request.trailers[0].value));
    }
  };
  router.post("/echo", echo).put("/echo", echo);
  router.del("/item", [](const HttpRequest&, HttpResponse& response) { response.set_status(204); });
  router.get("/query", [](const HttpRequest& request, HttpResponse& response) {
    response.set_body(std::string(request.path) + "|" + std::string(request.query), "text/plain");
  });
  router.route_prefix(HttpMethod::kGet, "/api/", [](const HttpRequest& request, HttpResponse& r) {
    r.set_body("api:" + std::string(request.path), "text/plain");
  });
  router.get("/throw", [](const HttpRequest&, HttpResponse&) {
    throw std::runtime_error("handler failure");
  });
  router.get("/untyped", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("no type given");
  });
  add_metrics_route(router);
  return service;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : server_(make_service()) {}

  // Sends raw bytes and returns the one response, which must be followed by the server closing.
  RawResponse answer_then_close(const std::string& request) {
    TestClient client(server_.address());
    EXPECT_TRUE(client.send_all(request));
    ResponseReader reader(client.fd());
    auto response = reader.next();
    EXPECT_TRUE(response.has_value()) << request.substr(0, 200);
    if (!response) return {};
    EXPECT_TRUE(reader.at_eof()) << "connection not closed after " << response->status_line;
    return *response;
  }

  HttpTestServer server_;
};

TEST_F(HttpServerTest, GetWithCurl) {
  auto response = curl_response(server_.url("/hello"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "Hello, World!");
  EXPECT_EQ(response->header("content-type"), "text/plain");
  EXPECT_EQ(response->header("content-length"), "13");
  EXPECT_EQ(response->header("server"), "lf");
  EXPECT_TRUE(looks_like_http_date(response->header("date"))) << response->header("date");
  EXPECT_FALSE(response->has_header("connection"));
}

TEST_F(HttpServerTest, CurlReusesOneConnectionForSeveralUrls) {
  const CommandResult result =
      curl("-o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\\n' " +
           server_.url("/hello") + " " + server_.url("/query?a=1") + " " + server_.url("/api/x"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "200 1\n200 0\n200 0\n");
}

TEST_F(HttpServerTest, RoutesQueryPrefix404And405) {
  auto query = curl_response("'" + server_.url("/qu%65ry?x=1&y=%20") + "'");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->body, "/query|x=1&y=%20");
  auto prefix = curl_response(server_.url("/api/users/7"));
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->body, "api:/api/users/7");
  auto missing = curl_response(server_.url("/nowhere"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto wrong_method = curl_response("-X DELETE " + server_.url("/hello"));
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->header("allow"), "GET, HEAD, OPTIONS");
  auto options = curl_response("-X OPTIONS " + server_.url("/echo"));
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->header("allow"), "POST, PUT, OPTIONS");
  auto deleted = curl_response("-X DELETE " + server_.url("/item"));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  EXPECT_FALSE(deleted->has_header("content-length"));
  auto thrown = curl_response(server_.url("/throw"));
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
}

TEST_F(HttpServerTest, DefaultContentTypeAndOptionsStar) {
  auto untyped = curl_response(server_.url("/untyped"));
  ASSERT_TRUE(untyped);
  EXPECT_EQ(untyped->header("content-type"), "text/plain; charset=utf-8");
  TestClient client(server_.address());
  ASSERT_TRUE(client.send_all("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto options = reader.next();
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->header("allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS");
}

TEST_F(HttpServerTest, HeadSendsTheGetLengthButNoBody) {
  auto head = curl_response("-I " + server_.url("/hello"));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "13");
  EXPECT_EQ(head->body, "");
  // On one connection: if a body followed the HEAD answer, the GET answer would not parse.
  TestClient client(server_.address());
  ASSERT_TRUE(
      client.send_all("HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto first = reader.next(/*head_only=*/true);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header("content-length"), "13");
  auto second = reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "Hello, World!");
  EXPECT_EQ(second->header("connection"), "close");
  EXPECT_TRUE(reader.at_eof());
}

TEST_F(HttpServerTest, PostWithContentLengthAndChunked) {
  TempDir dir;
  const std::string data = random_bytes(300 * 1024, 7);
  const auto file = dir.write("body.bin", data);
  auto plain =
      curl_response("--data-binary @" + file.string() +
                    " -H 'Content-Type: application/octet-stream' " + server_.url("/echo"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->header("x-method"), "POST");
  EXPECT_TRUE(plain->body == data) << "echoed " << plain->body.size() << " bytes";

  auto chunked = curl_response("-X PUT -H 'Transfer-Encoding: chunked' --data-binary @" +
                               file.string() + " " + server_.url("/echo"));
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 200);
  EXPECT_EQ(chunked->header("x-method"), "PUT");
  EXPECT_TRUE(chunked->body == data) << "echoed " << chunked->body.size() << " bytes";
}

TEST_F(HttpServerTest, ChunkedBodyWithTrailersOverRawSocket) {
  TestClient client(server_.address());
  ASSERT_TRUE(
      client.send_all("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "4\r\nWiki\r\n5;name=value\r\npedia\r\n0\r\nX-Checksum: 42\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "Wikipedia");
  EXPECT_EQ(response->header("x-trailers"), "1");
  EXPECT_EQ(response->header("x-first-trailer"), "42");
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswer) {
  TestClient client(server_.address());
  ASSERT_TRUE(client.send_all(
      "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto interim = reader.next();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send_all("hello"));
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
}

TEST_F(HttpServerTest, MetricsInPrometheusFormat) {
  auto response = curl_response(server_.url("/metrics"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-type"), "text/plain; version=0.0.4");
  EXPECT_NE(response->body.find("# TYPE lf_connections_total counter"), std::string::npos);
  EXPECT_NE(response->body.find("lf_connections_open "), std::string::npos);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestClient client(server_.address());
  ASSERT_TRUE(
      client.send_all("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /query?n=2 HTTP/1.1\r\nHost: h\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nthree"
                      "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /api/5 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"));  // after close: ignored
  ResponseReader reader(client.fd());
  const std::vector<std::pair<int, std::string>> expected = {{200, "Hello, World!"},
                                                             {200, "/query|n=2"},
                                                             {200, "three"},
                                                             {404, "404 Not Found\n"},
                                                             {200, "api:/api/5"}};
  for (const auto& [status, body] : expected) {
    auto response = reader.next();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, status);
    EXPECT_EQ(response->body, body);
  }
  EXPECT_TRUE(reader.at_eof());
}

TEST_F(HttpServerTest, RequestDribbledByteByByte) {
  TestClient client(server_.address());
  const std::string request = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  for (char c : request) {
    ASSERT_TRUE(client.send_all(std::string(1, c)));
    std::this_thread::sleep_for(1ms);
  }
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "abc");
}

TEST_F(HttpServerTest, Http10ClosesAfterTheAnswerUnlessKeepAlive) {
  TestClient client(server_.address());
  ASSERT_TRUE(client.send_all("GET /hello HTTP/1.0\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "Hello, World!");
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(reader.at_eof());
  // Nothing more came from the client: the server closed once the answer was sent, without
  // waiting for the client's FIN (as nginx does); the client still holds its socket open. Well
  // within the linger timeout (2 s), which a half-closed connection would wait out.
  EXPECT_TRUE(test::wait_until([&] { return server_.connections() == 0; }, 1s))
      << "the server waited for the client's close";

  TestClient kept(server_.address());
  ASSERT_TRUE(kept.send_all("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ResponseReader kept_reader(kept.fd());
  auto first = kept_reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header("connection"), "keep-alive");
  ASSERT_TRUE(kept.send_all("GET /hello HTTP/1.0\r\n\r\n"));
  auto second = kept_reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_TRUE(kept_reader.at_eof());
}

// With bytes behind a closing request (pipelined), the server half-closes and lingers instead of
// closing at once (Http10ClosesAfterTheAnswerUnlessKeepAlive), so that its close does not answer
// them with a reset: the connection stays until the client closes.
TEST_F(HttpServerTest, AClosingAnswerLingersWhenTheClientSentMore) {
  TestClient pipelining(server_.address());
  ASSERT_TRUE(pipelining.send_all("GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.0\r\n\r\n"));
  ResponseReader pipelined_reader(pipelining.fd());
  ASSERT_TRUE(pipelined_reader.next());
  EXPECT_TRUE(pipelined_reader.at_eof());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server_.connections(), 1u) << "closed with unread bytes: the client would get a reset";
  pipelining.close();
  EXPECT_TRUE(test::wait_until([&] { return server_.connections() == 0; }));
}

struct BadRequest {
  const char* name;
  std::string request;
  int status;
};

TEST_F(HttpServerTest, BadRequestsGetTheirStatusThenClose) {
  const std::vector<BadRequest> cases = {
      {"garbage", "GARBAGE\r\n\r\n", 400},
      {"no Host", "GET /hello HTTP/1.1\r\n\r\n", 400},
      {"header without colon", "GET /hello HTTP/1.1\r\nHost: h\r\nBroken\r\n\r\n", 400},
      {"bad Content-Length", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400},
      {"CL and TE",
       "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       400},
      {"bad chunk", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
       400},
      {"NUL in path", "GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"huge header",
       "GET /hello HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n", 431},
      {"many headers",
       [] {
         std::string r = "GET /hello HTTP/1.1\r\nHost: h\r\n";
         for (int i = 0; i < 700; ++i) r += "X-H" + std::to_string(i) + ": value\r\n";
         return r + "\r\n";
       }(),
       431},
      {"long target", "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
      {"body over limit", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"chunked over limit",
       "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "200000\r\n",
       413},
      {"PATCH", "PATCH /echo HTTP/1.1\r\nHost: h\r\n\r\n", 501},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 501},
      {"gzip coding",
       "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"HTTP/3.1", "GET /hello HTTP/3.1\r\n\r\n", 505},
  };
  for (const BadRequest& bad : cases) {
    SCOPED_TRACE(bad.name);
    const RawResponse response = answer_then_close(bad.request);
    EXPECT_EQ(response.status, bad.status);
    EXPECT_EQ(response.header("connection"), "close");
    EXPECT_EQ(response.header("server"), "lf");
  }
}

TEST_F(HttpServerTest, OversizedBodyStillGets413WhileTheClientKeepsSending) {
  // The client sends the whole 2 MB anyway; the graceful close lets it read the answer
  // instead of losing it to a reset.
  TestClient client(server_.address());
  const std::string head = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n";
  ASSERT_TRUE(client.send_all(head));
  ASSERT_TRUE(client.send_all(std::string(2'000'000, 'x')));
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(reader.at_eof());
}

class HttpTimeoutTest : public ::testing::Test {
 protected:
  static HttpOptions short_timeouts() {
    HttpOptions options;
    options.header_timeout = 300ms;
    options.linger_timeout = 300ms;
    return options;
  }
  HttpTestServer server_{make_service(short_timeouts())};
};

TEST_F(HttpTimeoutTest, SlowHeaderGets408ThenClose) {
  // Taken before connecting: the server's header timer starts when it accepts, which can come
  // before a preempted client thread reads the clock after connect().
  const auto start = std::chrono::steady_clock::now();
  TestClient client(server_.address());
  ASSERT_TRUE(client.send_all("GET /hello HTTP/1.1\r\nHost: h\r\n"));  // no blank line
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(client.send_all("X-Slow: 1\r\n"));  // still too slow overall
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(response->status, 408);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(reader.at_eof());
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(HttpTimeoutTest, IdleConnectionIsClosedWithoutAnAnswer) {
  TestClient client(server_.address());
  ResponseReader reader(client.fd());
  EXPECT_TRUE(reader.at_eof());
}

TEST_F(HttpTimeoutTest, TheTimeoutCountsPerRequestOnKeepAlive) {
  TestClient client(server_.address());
  ResponseReader reader(client.fd());
  for (int i = 0; i < 4; ++i) {  // 4 x 150 ms > the 300 ms timeout in total
    std::this_thread::sleep_for(150ms);
    ASSERT_TRUE(client.send_all("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto response = reader.next();
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->status, 200);
  }
}

TEST_F(HttpTimeoutTest, ClientThatNeverClosesIsClosedAfterTheLinger) {
  TestClient client(server_.address());
  ASSERT_TRUE(client.send_all("GARBAGE\r\n\r\n"));
  ResponseReader reader(client.fd());
  auto response = reader.next();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  // Keep sending after the FIN: the server discards it and closes after linger_timeout.
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  while (std::chrono::steady_clock::now() - start < 5s) {
    if (::send(client.fd(), "x", 1, MSG_NOSIGNAL) < 0) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace lf::test
