// StaticFiles behind HttpConnection, over real sockets: index.html, MIME types, the directory
// redirect, Last-Modified / If-Modified-Since (304), byte ranges (206, 416), a large file sent
// with sendfile, and every way out of the root refused: ".." raw and percent-encoded, encoded
// slashes, NUL, and symlinks pointing outside (while a symlink inside the root works).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lf/handlers/http/http_date.h"
#include "http/http_test_util.h"

namespace lf::test {
namespace {

class HttpStaticTest : public ::testing::Test {
 protected:
  HttpStaticTest() {
    root_ = dir_.path() / "root";
    dir_.write("root/index.html", "<h1>home</h1>\n");
    dir_.write("root/style.css", "body {}\n");
    dir_.write("root/sub/index.html", "<p>sub</p>\n");
    dir_.write("root/empty/.keep", "");
    dir_.write("root/data.bin", data_);
    dir_.write("root/big.bin", big_);
    dir_.write("root/a b.txt", "spaced\n");
    dir_.write("secret.txt", kSecret);
    std::filesystem::create_directory_symlink(dir_.path(), root_ / "out");
    std::filesystem::create_symlink(dir_.path() / "secret.txt", root_ / "secret_link.txt");
    std::filesystem::create_symlink("style.css", root_ / "inside_link.css");
    HttpOptions options;
    options.root = root_.string();
    auto service = std::make_shared<HttpService>(options);
    service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
      response.set_body("Hello, World!", "text/plain");
    });
    server_ = std::make_unique<HttpTestServer>(service);
  }

  // A raw request for `target` (sent as is: curl would normalise it).
  RawResponse raw_get(const std::string& target) {
    TestClient client(server_->address());
    EXPECT_TRUE(
        client.send_all("GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    ResponseReader reader(client.fd());
    auto response = reader.next();
    EXPECT_TRUE(response) << target;
    return response.value_or(RawResponse{});
  }

  static constexpr const char* kSecret = "TOP-SECRET-CONTENTS\n";
  TempDir dir_;
  std::filesystem::path root_;
  std::string data_ = random_bytes(10000, 1);
  std::string big_ = random_bytes(5 * 1024 * 1024 + 123, 2);
  std::unique_ptr<HttpTestServer> server_;
};

TEST_F(HttpStaticTest, IndexMimeTypesAndRoutesFirst) {
  auto index = curl_response(server_->url("/"));
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body, "<h1>home</h1>\n");
  EXPECT_EQ(index->header("content-type"), "text/html; charset=utf-8");
  auto sub = curl_response(server_->url("/sub/"));
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->body, "<p>sub</p>\n");
  auto css = curl_response(server_->url("/style.css"));
  ASSERT_TRUE(css);
  EXPECT_EQ(css->header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(css->header("accept-ranges"), "bytes");
  auto spaced = curl_response("'" + server_->url("/a%20b.txt?ignored=1") + "'");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->body, "spaced\n");
  auto bin = curl_response(server_->url("/data.bin"));
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->header("content-type"), "application/octet-stream");
  EXPECT_TRUE(bin->body == data_);
  auto hello = curl_response(server_->url("/hello"));
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "Hello, World!");
  auto inside_link = curl_response(server_->url("/inside_link.css"));
  ASSERT_TRUE(inside_link);
  EXPECT_EQ(inside_link->body, "body {}\n");
}

TEST_F(HttpStaticTest, DirectoryWithoutSlashRedirectsAndMissingIndexIs404) {
  auto redirect = curl_response(server_->url("/sub"));
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 301);
  EXPECT_EQ(redirect->header("location"), "/sub/");
  auto empty = curl_response(server_->url("/empty/"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 404);
  auto missing = curl_response(server_->url("/nope.html"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = curl_response("-X POST " + server_->url("/style.css"));
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(HttpStaticTest, LastModifiedAndIfModifiedSince) {
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "style.css").c_str(), &st), 0);
  const std::string mtime = format_http_date(st.st_mtime);
  auto full = curl_response(server_->url("/style.css"));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->header("last-modified"), mtime);
  auto not_modified =
      curl_response("-H 'If-Modified-Since: " + mtime + "' " + server_->url("/style.css"));
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_EQ(not_modified->body, "");
  EXPECT_FALSE(not_modified->has_header("content-length"));
  auto modified = curl_response("-H 'If-Modified-Since: " + format_http_date(st.st_mtime - 60) +
                                "' " + server_->url("/style.css"));
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->status, 200);
  EXPECT_EQ(modified->body, "body {}\n");
}

TEST_F(HttpStaticTest, RangesGive206Or416) {
  struct Case {
    std::string range;
    std::size_t first;
    std::size_t last;
  };
  for (const Case& c : std::vector<Case>{{"bytes=10-19", 10, 19},
                                         {"bytes=9990-", 9990, 9999},
                                         {"bytes=-5", 9995, 9999},
                                         {"bytes=9000-20000", 9000, 9999},
                                         {"bytes=-20000", 0, 9999}}) {
    SCOPED_TRACE(c.range);
    auto response = curl_response("-H 'Range: " + c.range + "' " + server_->url("/data.bin"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 206);
    EXPECT_EQ(response->header("content-range"),
              "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last) + "/10000");
    EXPECT_EQ(response->header("content-length"), std::to_string(c.last - c.first + 1));
    EXPECT_TRUE(response->body == data_.substr(c.first, c.last - c.first + 1));
  }
  auto unsatisfiable = curl_response("-H 'Range: bytes=10000-' " + server_->url("/data.bin"));
  ASSERT_TRUE(unsatisfiable);
  EXPECT_EQ(unsatisfiable->status, 416);
  EXPECT_EQ(unsatisfiable->header("content-range"), "bytes */10000");
  auto several = curl_response("-H 'Range: bytes=0-1,5-6' " + server_->url("/data.bin"));
  ASSERT_TRUE(several);
  EXPECT_EQ(several->status, 200);  // several ranges: the whole file
  EXPECT_EQ(several->body.size(), 10000u);
}

TEST_F(HttpStaticTest, HeadOnAFileSendsItsLengthOnly) {
  auto head = curl_response("-I " + server_->url("/data.bin"));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "10000");
  EXPECT_EQ(head->body, "");
}

TEST_F(HttpStaticTest, LargeFileWithSendfileOnAKeptAliveConnection) {
  const CommandResult result =
      curl("-o " + (dir_.path() / "copy1").string() + " -o " + (dir_.path() / "copy2").string() +
           " -w '%{http_code} %{num_connects} %{size_download}\\n' " + server_->url("/big.bin") +
           " " + server_->url("/big.bin"));
  ASSERT_EQ(result.exit_code, 0);
  const std::string size = std::to_string(big_.size());
  EXPECT_EQ(result.output, "200 1 " + size + "\n200 0 " + size + "\n");
  for (const char* name : {"copy1", "copy2"}) {
    std::ifstream in(dir_.path() / name, std::ios::binary);
    const std::string copy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(copy == big_) << name;
  }
}

TEST_F(HttpStaticTest, PathsLeavingTheRootAreRefused) {
  for (const std::string target : {
           "/../secret.txt",
           "/sub/../../secret.txt",
           "/..",
           "/%2e%2e/secret.txt",
           "/%2E%2E/secret.txt",
           "/sub/%2e%2e/%2e%2e/secret.txt",
           "/..%2fsecret.txt",
           "/sub%2f..%2f..%2fsecret.txt",
           "/%2fetc%2fpasswd",
           "/out/secret.txt",
           "/secret_link.txt",
           "/a%00b",
           "/sub/..%5c..%5csecret.txt",
       }) {
    SCOPED_TRACE(target);
    const RawResponse response = raw_get(target);
    EXPECT_TRUE(response.status == 400 || response.status == 403 || response.status == 404)
        << response.status;
    EXPECT_EQ(response.body.find("SECRET"), std::string::npos);
  }
  // A ".." that stays inside would be harmless, but is refused all the same.
  EXPECT_EQ(raw_get("/sub/../style.css").status, 403);
  // The same files through the root are fine.
  EXPECT_EQ(raw_get("/sub/index.html").status, 200);
}

}  // namespace
}  // namespace lf::test
