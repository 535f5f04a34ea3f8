// Test support for the HTTP tests: an lf::Server with one HttpConnection listener on 127.0.0.1,
// a raw-socket response reader, running curl/wrk as child processes, temporary directories.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/http_service.h"
#include "lf/handlers/http/metrics_route.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf::test {

// A Server with `service` on 127.0.0.1 (4 threads, no signal handling), stopped on destruction.
class HttpTestServer {
 public:
  explicit HttpTestServer(std::shared_ptr<const HttpService> service, std::size_t threads = 4) {
    ServerOptions options;
    options.threads = threads;
    options.handle_signals = false;
    server_ = std::make_unique<Server>(options);
    address_ = server_->listen<HttpConnection>(InetAddress(0, /*loopback=*/true), ListenOptions{},
                                               std::move(service));
    server_->start();
  }
  ~HttpTestServer() {
    server_->stop();
    server_->wait();
  }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  [[nodiscard]] const InetAddress& address() const noexcept { return address_; }
  [[nodiscard]] std::size_t connections() const { return server_->connections(); }
  [[nodiscard]] std::string url(std::string_view path) const {
    return "http://" + address_.to_string() + std::string(path);
  }

 private:
  std::unique_ptr<Server> server_;
  InetAddress address_;
};

// One parsed response.
struct RawResponse {
  int status = 0;
  std::string status_line;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;

  [[nodiscard]] std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  [[nodiscard]] bool has_header(const std::string& lower_name) const {
    return headers.count(lower_name) > 0;
  }
};

inline std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses the head of a response in `text` (up to the blank line); the body is not filled in.
inline std::optional<RawResponse> parse_head(std::string_view head) {
  RawResponse response;
  std::size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return std::nullopt;
  response.status_line = std::string(head.substr(0, line_end));
  if (!response.status_line.starts_with("HTTP/1.1 ") || response.status_line.size() < 12) {
    return std::nullopt;
  }
  response.status = std::atoi(response.status_line.c_str() + 9);
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    line_end = head.find("\r\n", pos);
    if (line_end == std::string_view::npos) line_end = head.size();
    const std::string_view line = head.substr(pos, line_end - pos);
    pos = line_end + 2;
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    response.headers.emplace(to_lower(std::string(line.substr(0, colon))), std::string(value));
  }
  return response;
}

// Reads responses one at a time from a raw connection (Content-Length framing only, which is
// what the server sends), with a timeout.
class ResponseReader {
 public:
  explicit ResponseReader(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : fd_(fd), timeout_(timeout) {}

  // The next response; `head_only` for an answer to HEAD (no body despite Content-Length).
  std::optional<RawResponse> next(bool head_only = false) {
    std::size_t end = 0;
    while ((end = data_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    auto response = parse_head(std::string_view(data_).substr(0, end + 2));
    if (!response) return std::nullopt;
    data_.erase(0, end + 4);
    std::size_t length = 0;
    const bool bodyless =
        head_only || response->status == 304 || response->status == 204 || response->status < 200;
    if (!bodyless)
      length = std::stoul(response->header("content-length").empty()
                              ? std::string("0")
                              : response->header("content-length"));
    while (data_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    response->body = data_.substr(0, length);
    data_.erase(0, length);
    return response;
  }
  // True if the server closes the connection with nothing more sent.
  bool at_eof() {
    if (!data_.empty()) return false;
    return !fill() && eof_;
  }
  [[nodiscard]] const std::string& leftover() const noexcept { return data_; }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout_.count())) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    data_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::chrono::milliseconds timeout_;
  std::string data_;
  bool eof_ = false;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout
};

// Runs `command` with /bin/sh, capturing its standard output.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) result.output.append(chunk, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// curl with a time limit, silent but showing errors; `args` are passed verbatim to the shell.
inline CommandResult curl(const std::string& args) {
  return run_command("curl -sS --max-time 20 " + args);
}

// curl -i: one response with its head; nullopt if curl failed.
inline std::optional<RawResponse> curl_response(const std::string& args) {
  const CommandResult result = curl("-i " + args);
  if (result.exit_code != 0) return std::nullopt;
  std::string_view text = result.output;
  // Skip interim answers (100 Continue).
  while (text.starts_with("HTTP/1.1 1")) {
    const std::size_t end = text.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    text.remove_prefix(end + 4);
  }
  const std::size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  auto response = parse_head(text.substr(0, end + 2));
  if (response) response->body = std::string(text.substr(end + 4));
  return response;
}

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lf-http-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // Writes `contents` to path()/relative, creating directories on the way.
  std::filesystem::path write(const std::string& relative, std::string_view contents) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return file;
  }

 private:
  std::filesystem::path path_;
};

// The IMF-fixdate shape: "Sun, 06 Nov 1994 08:49:37 GMT".
inline bool looks_like_http_date(const std::string& s) {
  static constexpr std::string_view kShape = "Aaa, 00 Aaa 0000 00:00:00 GMT";
  if (s.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char k = kShape[i];
    if (k == '0' && !(c >= '0' && c <= '9')) return false;
    if (k == 'A' && !(c >= 'A' && c <= 'Z')) return false;
    if (k == 'a' && !(c >= 'a' && c <= 'z')) return false;
    if (k != '0' && k != 'A' && k != 'a' && k != c) return false;
  }
  return true;
}

}  // namespace lf::test
