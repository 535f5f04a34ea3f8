// HTTP/1.1 conformance of HttpConnection + StaticFiles over real sockets, one test per rule, each
// named after its section of RFC 9112 (message syntax) or RFC 9110 (semantics): absolute-form
// targets, Host syntax, Transfer-Encoding framing errors, early refusal of what cannot be HTTP,
// the three HTTP-date forms, ETags and the conditional headers in their order of precedence,
// and what a request for several ranges gets. curl where it can send the request, raw sockets
// for what it will not.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "http/http_test_util.h"

namespace lf::test {
namespace {

using namespace std::chrono_literals;

// The files' modification time: Sun, 06 Nov 1994 08:49:37 GMT, the RFCs' example date.
constexpr std::time_t kMtime = 784111777;
constexpr const char* kImfDate = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kRfc850Date = "Sunday, 06-Nov-94 08:49:37 GMT";
constexpr const char* kAsctimeDate = "Sun Nov  6 08:49:37 1994";
constexpr const char* kEarlierDate = "Sat, 05 Nov 1994 08:49:37 GMT";
// W/"<mtime hex>-<size hex>" of data.bin (10,000 bytes).
constexpr const char* kDataEtag = "W/\"2ebc98a1-2710\"";

class HttpConformanceTest : public ::testing::Test {
 protected:
  HttpConformanceTest() {
    dir_.write("index.html", "<h1>home</h1>\n");
    dir_.write("data.bin", data_);
    for (const char* name : {"index.html", "data.bin"}) {
      std::filesystem::last_write_time(
          dir_.path() / name,
          std::chrono::file_clock::from_sys(std::chrono::system_clock::from_time_t(kMtime)));
    }
    HttpOptions options;
    options.root = dir_.path().string();
    auto service = std::make_shared<HttpService>(options);
    service->router().get("/host", [](const HttpRequest& request, HttpResponse& response) {
      response.set_body(std::string(request.host) + "|" + std::string(request.header("Host")),
                        "text/plain");
    });
    server_ = std::make_unique<HttpTestServer>(service);
  }

  // `method` `target` with `headers` (each "Name: value") on a raw connection, one answer.
  RawResponse request(const std::string& method, const std::string& target,
                      const std::vector<std::string>& headers = {}) {
    std::string text = method + " " + target + " HTTP/1.1\r\nHost: h\r\n";
    for (const std::string& header : headers) text += header + "\r\n";
    TestClient client(server_->address());
    EXPECT_TRUE(client.send_all(text + "\r\n"));
    ResponseReader reader(client.fd());
    auto response = reader.next(method == "HEAD");
    EXPECT_TRUE(response) << text;
    return response.value_or(RawResponse{});
  }
  RawResponse get(const std::string& target, const std::vector<std::string>& headers = {}) {
    return request("GET", target, headers);
  }

  // Sends raw bytes; the one answer, which must be followed by the server closing.
  RawResponse answer_then_close(const std::string& bytes) {
    TestClient client(server_->address());
    EXPECT_TRUE(client.send_all(bytes));
    ResponseReader reader(client.fd());
    auto response = reader.next();
    EXPECT_TRUE(response) << bytes;
    if (!response) return {};
    EXPECT_EQ(response->header("connection"), "close");
    EXPECT_TRUE(reader.at_eof()) << "not closed after " << response->status_line;
    return *response;
  }

  TempDir dir_;
  std::string data_ = random_bytes(10000, 3);
  std::unique_ptr<HttpTestServer> server_;
};

// RFC 9112 3.2.2: an origin server accepts the absolute form, and the target's authority
// replaces the Host header.
TEST_F(HttpConformanceTest, AbsoluteFormTargetRfc9112_3_2_2) {
  auto file = curl_response("--request-target http://example.com/index.html " + server_->url("/"));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body, "<h1>home</h1>\n");
  auto host = curl_response("--request-target 'http://Example.com:81/host?x' -H 'Host: other' " +
                            server_->url("/"));
  ASSERT_TRUE(host);
  EXPECT_EQ(host->status, 200);
  EXPECT_EQ(host->body, "Example.com:81|Example.com:81");
  auto origin_form = curl_response("-H 'Host: other:82' " + server_->url("/host"));
  ASSERT_TRUE(origin_form);
  EXPECT_EQ(origin_form->body, "other:82|other:82");
  // HTTP/1.0 needs no Host; userinfo in the authority is an error (RFC 9110 4.2.1).
  EXPECT_EQ(answer_then_close("GET http://[::1]:8/host HTTP/1.0\r\n\r\n").body, "[::1]:8|");
  EXPECT_EQ(answer_then_close("GET http://u@h/host HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
}

// RFC 9112 6.1: a Transfer-Encoding in an HTTP/1.0 request is faulty framing: 400, then close.
TEST_F(HttpConformanceTest, Http10WithChunkedIs400AndClosesRfc9112_6_1) {
  const RawResponse response = answer_then_close(
      "POST /host HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(response.status, 400);
}

// RFC 9112 3.2: a Host that is not RFC 3986 `host [":" port]` is 400.
TEST_F(HttpConformanceTest, InvalidHostIs400Rfc9112_3_2) {
  for (const std::string host : {"a b", "u@a/b", "h:x", "[::1", "[:::::]"}) {
    SCOPED_TRACE(host);
    EXPECT_EQ(answer_then_close("GET /host HTTP/1.1\r\nHost: " + host + "\r\n\r\n").status, 400);
  }
  // An empty Host is valid (RFC 9112 3.2: a target URI without an authority).
  EXPECT_EQ(answer_then_close("GET /host HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n").body,
            "|");
  for (const std::string host : {"[::1]:8080", "127.0.0.1", "example.com:1"}) {
    SCOPED_TRACE(host);
    auto response = curl_response("-H 'Host: " + host + "' " + server_->url("/host"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, host + "|" + host);
  }
}

// RFC 9112 2.2: bytes that cannot be HTTP (a TLS ClientHello on the plain port, a bare CR) get
// 400 at once, not 408 when the 10 s header timeout expires.
TEST_F(HttpConformanceTest, NonHttpBytesAndBareCrGet400AtOnceRfc9112_2_2) {
  const std::string client_hello("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11);
  for (const std::string& bytes :
       {client_hello, std::string("GET /host HTTP/1.1\rHost: h\r\n\r\n"),
        std::string("GET /host HTTP/1.1\r\nHost: h\rX-A: b\r\n\r\n")}) {
    SCOPED_TRACE(bytes);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(answer_then_close(bytes).status, 400);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
}

// RFC 9112 6.3: chunked not the final coding means the body cannot be delimited: 400, then
// close. An unknown coding before chunked stays 501.
TEST_F(HttpConformanceTest, ChunkedNotLastIs400Rfc9112_6_3) {
  const std::string head = "POST /host HTTP/1.1\r\nHost: h\r\n";
  EXPECT_EQ(answer_then_close(head + "Transfer-Encoding: chunked, gzip\r\n\r\n").status, 400);
  EXPECT_EQ(answer_then_close(head + "Transfer-Encoding: gzip\r\n\r\n").status, 400);
  EXPECT_EQ(answer_then_close(head + "Transfer-Encoding: gzip, chunked\r\n\r\n").status, 501);
}

// RFC 9110 5.6.7: If-Modified-Since in IMF-fixdate, RFC 850 and asctime form.
TEST_F(HttpConformanceTest, IfModifiedSinceInEveryDateFormRfc9110_5_6_7) {
  for (const std::string date : {kImfDate, kRfc850Date, kAsctimeDate}) {
    SCOPED_TRACE(date);
    auto response = curl_response("-H 'If-Modified-Since: " + date + "' " + server_->url("/"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 304);
  }
  EXPECT_EQ(get("/", {"If-Modified-Since: Saturday, 05-Nov-94 08:49:37 GMT"}).status, 200);
  EXPECT_EQ(get("/", {"If-Modified-Since: Sat Nov  5 08:49:37 1994"}).status, 200);
}

// RFC 9110 8.8.3: a weak ETag from mtime and size (nginx's "<mtime hex>-<size hex>", weak) on
// every answer about the file; If-None-Match compares weakly (13.1.2), If-Match strongly
// (13.1.1), so the weak ETag matches If-None-Match but never If-Match except "*".
TEST_F(HttpConformanceTest, WeakEtagAndItsComparisonsRfc9110_8_8_3) {
  auto full = curl_response(server_->url("/data.bin"));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->header("etag"), kDataEtag);
  EXPECT_EQ(full->header("last-modified"), kImfDate);
  const RawResponse not_modified = get("/data.bin", {std::string("If-None-Match: ") + kDataEtag});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.header("etag"), kDataEtag);
  EXPECT_EQ(get("/data.bin", {"If-None-Match: \"x\", \"2ebc98a1-2710\""}).status, 304);
  EXPECT_EQ(get("/data.bin", {"If-None-Match: \"2ebc98a1-2711\""}).status, 200);
  EXPECT_EQ(get("/data.bin", {std::string("If-Match: ") + kDataEtag}).status, 412);
  EXPECT_EQ(get("/data.bin", {"If-Match: \"2ebc98a1-2710\""}).status, 412);
  EXPECT_EQ(get("/data.bin", {"If-Match: *"}).status, 200);
  EXPECT_EQ(get("/nothing", {"If-Match: *"}).status, 404);
}

// RFC 9110 13.2.2: the order in which the conditional headers are evaluated.
TEST_F(HttpConformanceTest, ConditionalPrecedenceRfc9110_13_2_2) {
  const std::string matching_ims = std::string("If-Modified-Since: ") + kImfDate;
  // If-None-Match present: If-Modified-Since is ignored.
  EXPECT_EQ(get("/data.bin", {"If-None-Match: \"other\"", matching_ims}).status, 200);
  // If-None-Match: * on an existing file: 304 for GET and HEAD.
  EXPECT_EQ(get("/data.bin", {"If-None-Match: *"}).status, 304);
  EXPECT_EQ(request("HEAD", "/data.bin", {"If-None-Match: *"}).status, 304);
  // If-Unmodified-Since: 412 when the file changed after the date.
  EXPECT_EQ(get("/data.bin", {std::string("If-Unmodified-Since: ") + kEarlierDate}).status, 412);
  EXPECT_EQ(get("/data.bin", {std::string("If-Unmodified-Since: ") + kRfc850Date}).status, 200);
  // If-Match is evaluated first and wins over If-None-Match and If-Unmodified-Since.
  EXPECT_EQ(get("/data.bin", {"If-Match: \"other\"", "If-None-Match: *"}).status, 412);
  EXPECT_EQ(get("/data.bin", {"If-Match: *", std::string("If-Unmodified-Since: ") + kEarlierDate})
                .status,
            200);
  // A range request whose condition says "not modified" gets 304, not 206.
  EXPECT_EQ(get("/data.bin", {"Range: bytes=0-9", matching_ims}).status, 304);
  EXPECT_EQ(get("/data.bin", {"Range: bytes=0-9", "If-None-Match: *"}).status, 304);
}

// RFC 9110 13.1.5: If-Range with an entity-tag needs a strong match (the weak ETag never is
// one: the whole file); with a date, the exact Last-Modified in any HTTP-date form.
TEST_F(HttpConformanceTest, IfRangeWithEtagsAndDatesRfc9110_13_1_5) {
  const std::string range = "Range: bytes=0-9";
  const RawResponse etag = get("/data.bin", {range, std::string("If-Range: ") + kDataEtag});
  EXPECT_EQ(etag.status, 200);
  EXPECT_EQ(etag.body.size(), data_.size());
  EXPECT_EQ(get("/data.bin", {range, "If-Range: \"2ebc98a1-2710\""}).status, 200);
  for (const std::string date : {kImfDate, kRfc850Date, kAsctimeDate}) {
    SCOPED_TRACE(date);
    const RawResponse partial = get("/data.bin", {range, "If-Range: " + date});
    EXPECT_EQ(partial.status, 206);
    EXPECT_EQ(partial.header("content-range"), "bytes 0-9/10000");
    EXPECT_TRUE(partial.body == data_.substr(0, 10));
  }
  EXPECT_EQ(get("/data.bin", {range, std::string("If-Range: ") + kEarlierDate}).status, 200);
  // Range is defined for GET only (RFC 9110 14.2): HEAD gets the plain answer.
  const RawResponse head = request("HEAD", "/data.bin", {range});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "10000");
}

// RFC 9110 14.2: this server answers a request for several satisfiable ranges with the whole
// file (200), not multipart/byteranges (docs/operations.md); one satisfiable range among
// unsatisfiable ones gets 206, none satisfiable 416 (15.5.17).
TEST_F(HttpConformanceTest, SeveralRangesGetTheWholeFileRfc9110_14_2) {
  for (const std::string ranges : {"bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=-5,0-0"}) {
    SCOPED_TRACE(ranges);
    auto response = curl_response("-H 'Range: " + ranges + "' " + server_->url("/data.bin"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_FALSE(response->has_header("content-range"));
    EXPECT_TRUE(response->body == data_);
  }
  const RawResponse one = get("/data.bin", {"Range: bytes=20000-, 2-3"});
  EXPECT_EQ(one.status, 206);
  EXPECT_EQ(one.header("content-range"), "bytes 2-3/10000");
  EXPECT_TRUE(one.body == data_.substr(2, 2));
  const RawResponse none = get("/data.bin", {"Range: bytes=20000-,30000-30001"});
  EXPECT_EQ(none.status, 416);
  EXPECT_EQ(none.header("content-range"), "bytes */10000");
  EXPECT_EQ(get("/data.bin", {"Range: Bytes=1-2"}).status, 206);  // the unit is case-insensitive
}

}  // namespace
}  // namespace lf::test
