// HttpParser without sockets: complete requests, requests fed in pieces (byte by byte), chunked
// bodies with trailers, pipelined requests, and every error status with the input that earns it.
#include "lf/handlers/http/http_parser.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "lf/handlers/http/http_date.h"
#include "lf/handlers/http/http_etag.h"
#include "lf/handlers/http/http_uri.h"
#include "lf/handlers/http/mime_types.h"

namespace lf {
namespace {

using Status = HttpParser::Status;

// Feeds `input` in pieces of `step` bytes (0: all at once), as a connection would.
Status feed(HttpParser& parser, std::string_view input, HttpRequest& request,
            std::size_t step = 0) {
  if (step == 0) return parser.parse(input, request);
  Status status = Status::kNeedMore;
  for (std::size_t n = step; status == Status::kNeedMore; n += step) {
    status = parser.parse(input.substr(0, std::min(n, input.size())), request);
    if (n >= input.size()) break;
  }
  return status;
}

int error_of(std::string_view input, HttpLimits limits = {}) {
  HttpParser parser(limits);
  HttpRequest request;
  const Status status = parser.parse(input, request);
  return status == Status::kError ? parser.error_status() : 0;
}

TEST(HttpParser, SimpleGet) {
  HttpParser parser;
  HttpRequest request;
  const std::string input = "GET /a%20b/c?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-Thing:  v v \r\n\r\n";
  ASSERT_EQ(parser.parse(input, request), Status::kComplete);
  EXPECT_EQ(parser.consumed(), input.size());
  EXPECT_EQ(request.method, HttpMethod::kGet);
  EXPECT_EQ(request.version_minor, 1);
  EXPECT_EQ(request.target, "/a%20b/c?x=1&y=2");
  EXPECT_EQ(request.raw_path, "/a%20b/c");
  EXPECT_EQ(request.path, "/a b/c");
  EXPECT_EQ(request.query, "x=1&y=2");
  EXPECT_EQ(request.header("host"), "h");
  EXPECT_EQ(request.header("X-THING"), "v v");
  EXPECT_TRUE(request.keep_alive);
  EXPECT_TRUE(request.body.empty());
  // Views into the input: no copy per header.
  EXPECT_GE(request.header("host").data(), input.data());
  EXPECT_LT(request.header("host").data(), input.data() + input.size());
}

TEST(HttpParser, ByteByByteGivesTheSameRequest) {
  const std::string input =
      "\r\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
  for (std::size_t step : {1u, 2u, 7u}) {
    HttpParser parser;
    HttpRequest request;
    ASSERT_EQ(feed(parser, input, request, step), Status::kComplete) << step;
    EXPECT_EQ(request.method, HttpMethod::kPost);
    EXPECT_EQ(request.body, "hello");
    EXPECT_FALSE(request.keep_alive);
    EXPECT_EQ(parser.consumed(), input.size());
  }
}

TEST(HttpParser, NeedsMoreUntilTheBodyIsIn) {
  HttpParser parser;
  HttpRequest request;
  std::string input =
      "PUT /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n";
  EXPECT_EQ(parser.parse(input, request), Status::kNeedMore);
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_TRUE(parser.expects_continue());
  input += "0123456789";
  ASSERT_EQ(parser.parse(input, request), Status::kComplete);
  EXPECT_EQ(request.body, "0123456789");
}

TEST(HttpParser, ChunkedBodyWithTrailers) {
  const std::string input =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n"
      "7\r\n, world\r\n"
      "0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  for (std::size_t step : {0u, 1u, 3u}) {
    HttpParser parser;
    HttpRequest request;
    ASSERT_EQ(feed(parser, input, request, step), Status::kComplete) << step;
    EXPECT_EQ(request.body, "hello, world");
    ASSERT_EQ(request.trailers.size(), 2u);
    EXPECT_EQ(request.trailers[0].name, "X-Checksum");
    EXPECT_EQ(request.trailers[0].value, "abc");
    EXPECT_EQ(input.substr(parser.consumed()), "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  }
}

TEST(HttpParser, PipelinedRequestsOneAfterAnother) {
  std::string input =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
      "DELETE /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab"
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
  HttpParser parser;
  HttpRequest request;
  std::vector<std::string> seen;
  while (!input.empty()) {
    ASSERT_EQ(parser.parse(input, request), Status::kComplete);
    seen.push_back(std::string(to_string(request.method)) + " " + std::string(request.path));
    input.erase(0, parser.consumed());
    parser.reset();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"GET /1", "HEAD /2", "DELETE /3", "OPTIONS *"}));
}

TEST(HttpParser, KeepAliveRules) {
  const auto keep_alive = [](std::string_view input) {
    HttpParser parser;
    HttpRequest request;
    EXPECT_EQ(parser.parse(input, request), Status::kComplete) << input;
    return request.keep_alive;
  };
  EXPECT_TRUE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n"));
}

TEST(HttpParser, BareLineFeedsAreAccepted) {
  HttpParser parser;
  HttpRequest request;
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\nHost: h\n\n", request), Status::kComplete);
}

TEST(HttpParser, MalformedIs400) {
  for (std::string_view input : {
           "GARBAGE\r\n\r\n",
           "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
           "GET noslash HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTX/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.x\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\n\r\n",                        // no Host
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
           "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
           "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
       }) {
    EXPECT_EQ(error_of(input), 400) << input;
  }
}

TEST(HttpParser, LimitsAndUnsupportedFeatures) {
  EXPECT_EQ(error_of("PATCH / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);
  EXPECT_EQ(error_of("TRACE / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);
  EXPECT_EQ(error_of("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);  // methods are case-sensitive
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501);
  EXPECT_EQ(error_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(error_of("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(error_of("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n"), 414);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a') + "\r\n\r\n"),
            431);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a')), 431);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n"), 413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", {8192, 10}), 413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\nabcdef\r\n6\r\n",
                     {8192, 10}),
            413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "fffffffffffffffff\r\n"),
            400);
  // Exactly at the body limit is fine.
  EXPECT_EQ(
      error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", {8192, 10}),
      0);
}

TEST(HttpParser, StartedOnlyAfterARealByte) {
  HttpParser parser;
  HttpRequest request;
  EXPECT_EQ(parser.parse("", request), Status::kNeedMore);
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse("\r\n", request), Status::kNeedMore);
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse("\r\nG", request), Status::kNeedMore);
  EXPECT_TRUE(parser.started());
}

TEST(HttpHelpers, PercentDecode) {
  std::string out;
  EXPECT_TRUE(percent_decode("/a%2Fb%2e%2E+c", out));
  EXPECT_EQ(out, "/a/b..+c");
  out.clear();
  EXPECT_FALSE(percent_decode("%", out));
  out.clear();
  EXPECT_FALSE(percent_decode("%0", out));
  out.clear();
  EXPECT_FALSE(percent_decode("%00", out));
}

TEST(HttpHelpers, Dates) {
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_FALSE(parse_http_date("Sun, 06 Xyz 1994 08:49:37 GMT"));
  EXPECT_EQ(http_date_now().size(), 29u);
  EXPECT_LE(std::abs(parse_http_date(http_date_now()).value_or(0) - std::time(nullptr)), 2);
}

// Every input that parses whole must give the same outcome fed one byte at a time.
int error_of_bytewise(std::string_view input) {
  HttpParser parser;
  HttpRequest request;
  return feed(parser, input, request, 1) == Status::kError ? parser.error_status() : 0;
}

// RFC 9112 3.2.2: an origin server accepts the absolute form; its authority replaces Host.
TEST(HttpParser, AbsoluteFormTargetRfc9112_3_2_2) {
  const std::string input =
      "GET http://Example.COM:8080/a%20b/c?x=1 HTTP/1.1\r\nHost: other\r\n\r\n";
  for (std::size_t step : {0u, 1u}) {
    HttpParser parser;
    HttpRequest request;
    ASSERT_EQ(feed(parser, input, request, step), Status::kComplete) << step;
    EXPECT_EQ(request.target, "http://Example.COM:8080/a%20b/c?x=1");
    EXPECT_EQ(request.raw_path, "/a%20b/c");
    EXPECT_EQ(request.path, "/a b/c");
    EXPECT_EQ(request.query, "x=1");
    EXPECT_EQ(request.host, "Example.COM:8080");
    EXPECT_EQ(request.header("Host"), "Example.COM:8080");
  }
  HttpParser parser;
  HttpRequest request;
  ASSERT_EQ(parser.parse("GET HTTPS://[::1]?q HTTP/1.0\r\n\r\n", request), Status::kComplete);
  EXPECT_EQ(request.path, "/");
  EXPECT_EQ(request.raw_path, "/");
  EXPECT_EQ(request.query, "q");
  EXPECT_EQ(request.host, "[::1]");
  parser.reset();
  ASSERT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: h:1\r\n\r\n", request), Status::kComplete);
  EXPECT_EQ(request.host, "h:1");
  for (std::string_view bad : {
           "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",          // empty host (RFC 9110 4.2.1)
           "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n",       // userinfo
           "GET http://a b/x HTTP/1.1\r\nHost: h\r\n\r\n",       // a space: three parts
           "GET http://h:x/ HTTP/1.1\r\nHost: h\r\n\r\n",        // port not digits
           "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n",          // not http(s)
           "GET http:/h/x HTTP/1.1\r\nHost: h\r\n\r\n",          // no authority
           "GET http://h/x HTTP/1.1\r\n\r\n",                      // HTTP/1.1 still needs Host
       }) {
    EXPECT_EQ(error_of(bad), 400) << bad;
  }
}

// RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
TEST(HttpParser, Http10WithTransferEncodingIs400Rfc9112_6_1) {
  EXPECT_EQ(error_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(error_of("POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
}

// RFC 9112 6.3: chunked must be the final coding (and applied once, 6.1), else the body cannot
// be delimited: 400. A coding this server does not decode, before chunked: 501.
TEST(HttpParser, ChunkedNotLastIs400Rfc9112_6_3) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\n";
  EXPECT_EQ(error_of(head + "Transfer-Encoding: chunked, gzip\r\n\r\n"), 400);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"),
            400);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: \r\n\r\n"), 400);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501);
  EXPECT_EQ(error_of(head + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"), 0);
}

// RFC 9112 3.2: a Host that is not `uri-host [":" port]` (RFC 3986 3.2.2) is 400.
TEST(HttpParser, InvalidHostIs400Rfc9112_3_2) {
  for (std::string_view host : {"a b", "u@a/b", "a/b", "h:80x", "[::1", "[::g]", "[::1]x",
                                "a:b:c", "%zz", "[v1x]"}) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n"), 400)
        << host;
  }
  for (std::string_view host : {"", "h", "h:8080", "127.0.0.1:1", "[::1]", "[::1]:80",
                                "[fe80::1:2]", "[v7.a:b]", "xn--bcher-kva.example", "a%20b", "h:"}) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n"), 0)
        << host;
  }
}

// RFC 9112 2.2: a bare CR is invalid, and bytes that cannot begin a request are refused as
// soon as they arrive (a TLS ClientHello on the plain port), without waiting for a line feed.
TEST(HttpParser, BareCrAndNonHttpBytesAre400AtOnceRfc9112_2_2) {
  for (std::string_view pending : {
           std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
           std::string_view("GET / HTTP/1.1\rX"),
           std::string_view("GET / HTTP/1.1\r\r"),
           std::string_view("\rGET"),
           std::string_view("GET /\x01"),
           std::string_view("GET / HTTP/1.1 "),
           std::string_view("GET / XTTP"),
           std::string_view("GET\r"),
           std::string_view("GET / HTTP/1.1\r\nHost: h\rX"),
       }) {
    EXPECT_EQ(error_of(pending), 400) << pending;
    EXPECT_EQ(error_of_bytewise(pending), 400) << pending;
  }
  // Prefixes of good requests still wait for more.
  for (std::string_view pending : {"\r", "\r\n\r", "G", "GET ", "GET /x HTTP/1.", "GET / HTTP/1.1\r",
                                   "GET / HTTP/1.1\r\nHost: h\r", "PATCH / HTTP/2.0"}) {
    HttpParser parser;
    HttpRequest request;
    EXPECT_EQ(parser.parse(pending, request), Status::kNeedMore) << pending;
  }
  // Errors found later in the line keep their status.
  EXPECT_EQ(error_of_bytewise("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(error_of_bytewise("PATCH / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);
  EXPECT_EQ(error_of_bytewise("GET /" + std::string(9000, 'a')), 414);
}

// RFC 9110 5.6.7: recipients parse all three HTTP-date forms.
TEST(HttpHelpers, ObsoleteDateFormsRfc9110_5_6_7) {
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov 16 08:49:37 1994"), 784111777 + 10 * 86400);
  // A two-digit year more than 50 years ahead is in the past century.
  const std::time_t year_2030 = 1893456000;  // 2030-01-01
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", year_2030), 915148800);
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-50 00:00:00 GMT", year_2030), 2524608000);
  for (std::string_view bad : {"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                               "Sun Nov 6 08:49:37 1994", "Sun, 06-Nov-94 08:49:37 GMT",
                               "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov  6 08:49:37 94",
                               "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                               "", "Sun"}) {
    EXPECT_FALSE(parse_http_date(bad)) << bad;
  }
}

// RFC 9110 8.8.3: weak ETags from size and mtime; strong and weak comparison (8.8.3.2).
TEST(HttpHelpers, EntityTagsRfc9110_8_8_3) {
  EXPECT_EQ(weak_etag(0x5f5e1000, 0x2710), "W/\"5f5e1000-2710\"");
  const std::string etag = weak_etag(100, 7);
  EXPECT_TRUE(etag_list_matches("*", etag, EtagComparison::kStrong));
  EXPECT_TRUE(etag_list_matches(etag, etag, EtagComparison::kWeak));
  EXPECT_TRUE(etag_list_matches("\"64-7\"", etag, EtagComparison::kWeak));
  EXPECT_TRUE(etag_list_matches("\"a,b\", , W/\"64-7\"", etag, EtagComparison::kWeak));
  EXPECT_FALSE(etag_list_matches(etag, etag, EtagComparison::kStrong));  // weak never strong
  EXPECT_FALSE(etag_list_matches("\"64-8\"", etag, EtagComparison::kWeak));
  EXPECT_FALSE(etag_list_matches("64-7", etag, EtagComparison::kWeak));  // no quotes
  EXPECT_FALSE(etag_list_matches("junk, \"64-7\"", etag, EtagComparison::kWeak));
  EXPECT_TRUE(etag_matches("\"x\"", "\"x\"", EtagComparison::kStrong));
  EXPECT_FALSE(etag_matches("W/\"x\"", "\"x\"", EtagComparison::kStrong));
  EXPECT_FALSE(etag_matches("*", "\"x\"", EtagComparison::kWeak));
}

TEST(HttpHelpers, MimeTypes) {
  EXPECT_EQ(mime_type_for("/x/index.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(mime_type_for("a.png"), "image/png");
  EXPECT_EQ(mime_type_for("/dir.d/noext"), "application/octet-stream");
}

}  // namespace
}  // namespace lf
