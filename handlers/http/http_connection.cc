#include "lf/handlers/http/http_connection.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "lf/log/log.h"
#include "lf/metrics/metric_registry.h"

namespace lf {
namespace {

constexpr std::size_t kMethods = static_cast<std::size_t>(HttpMethod::kCount);
constexpr int kStatusClasses = 5;  // 1xx to 5xx

// lf_http_request_duration_seconds{method,status_class}. Each thread registers a series on its
// first use (a lock, once), so /metrics lists the combinations served and the hot path is an
// array lookup.
metrics::HistogramHandle& request_duration(HttpMethod method, int status) {
  thread_local std::array<std::array<metrics::HistogramHandle, kStatusClasses>, kMethods> handles;
  const int status_class = std::clamp(status / 100, 1, kStatusClasses);
  metrics::HistogramHandle& handle =
      handles[static_cast<std::size_t>(method)][static_cast<std::size_t>(status_class - 1)];
  if (!handle.valid()) {
    handle =
        metrics::register_histogram("lf_http_request_duration_seconds",
                                    "Time from parsing an HTTP request to queueing its response",
                                    {{"method", std::string(to_string(method))},
                                     {"status_class", std::to_string(status_class) + "xx"}});
  }
  return handle;
}

}  // namespace

HttpConnection::HttpConnection(std::shared_ptr<const HttpService> service)
    : service_(std::move(service)), parser_(service_->limits()) {}

void HttpConnection::on_connect() { wait_for_head(); }

void HttpConnection::on_message(Buffer& input) {
  // A request is timed from the start of its parsing: now for the first, the queueing of the
  // previous answer for a pipelined one. So each request costs one clock read.
  Clock::time_point started = Clock::now();
  // Above the high-water mark, pipelined requests wait in `input` for the answers to drain:
  // on_message() runs again with them then.
  while (!closing_ && !output_full()) {
    const HttpParser::Status status = parser_.parse(input.view(), request_);
    if (status == HttpParser::Status::kNeedMore) {
      if (parser_.headers_complete()) {
        waiting_for_head_ = false;  // the body may take its time (the idle timeout still runs)
        clear_deadline();
        if (parser_.expects_continue() && !continue_sent_ && parser_.version_minor() == 1) {
          send("HTTP/1.1 100 Continue\r\n\r\n");
          continue_sent_ = true;
        }
      }
      return;
    }
    if (status == HttpParser::Status::kError) {
      reject(parser_.error_status());
      break;
    }
    waiting_for_head_ = false;
    clear_deadline();
    const int answered_status = answer(request_);
    const Clock::time_point answered = Clock::now();
    request_duration(request_.method, answered_status).observe(answered - started);
    started = answered;
    input.retrieve(parser_.consumed());
    parser_.reset();
    continue_sent_ = false;
    // The head timeout for the next request starts once this answer is written: a slow
    // download is not an idle connection (on_write_complete).
    if (!closing_) writing_answer_ = true;
  }
  if (closing_) {
    if (std::exchange(close_after_answer_, false)) {
      // Bytes behind the closing request (pipelined ones) say the client is still sending:
      // linger for the rest, or our close would answer them with a reset.
      if (input.readable_bytes() > 0) {
        shutdown();
      } else {
        close_when_sent();
      }
    }
    input.retrieve_all();  // whatever else arrives is not answered
  }
}

int HttpConnection::answer(const HttpRequest& request) {
  HttpResponse response;
  service_->handle(request, response);
  const bool keep_alive = request.keep_alive && !response.close_requested();
  send_response(response, request.method == HttpMethod::kHead, keep_alive, request.version_minor);
  if (!keep_alive) close_gracefully(/*answered=*/true);
  return response.status();
}

void HttpConnection::send_response(HttpResponse& response, bool head_only, bool keep_alive,
                                   int version_minor) {
  head_.clear();
  response.write_head(head_, keep_alive, version_minor);
  const int status = response.status();
  const bool bodyless = head_only || status < 200 || status == 204 || status == 304;
  if (bodyless) {
    send(head_);
  } else if (response.has_file()) {
    send(head_);
    const std::uint64_t offset = response.file_offset();
    const std::uint64_t length = response.content_length();
    send_file(response.take_file(), offset, length);
  } else if (response.body().size() <= 16 * 1024) {
    head_.append(response.body());  // one copy into the output either way
    send(head_);
  } else {
    send(head_);
    send(response.body());
  }
}

void HttpConnection::reject(int status) {
  LF_LOG_DEBUG("HTTP {} to {}", status, peer_address().to_string());
  HttpResponse response;
  response.set_error(status);
  send_response(response, false, false, 1);
  close_gracefully();
}

void HttpConnection::close_gracefully(bool answered) {
  closing_ = true;
  waiting_for_head_ = false;
  clear_deadline();  // the linger deadline starts once the output is written
  if (answered) {
    close_after_answer_ = true;
  } else {
    shutdown();
  }
}

void HttpConnection::on_write_complete() {
  if (closing_) {
    set_deadline(Clock::now() + service_->options().linger_timeout);
  } else if (writing_answer_) {
    writing_answer_ = false;
    wait_for_head();
  }
}

void HttpConnection::wait_for_head() {
  waiting_for_head_ = true;
  if (service_->options().header_timeout.count() > 0) {
    set_deadline(Clock::now() + service_->options().header_timeout);
  }
}

void HttpConnection::set_deadline(Clock::time_point deadline) {
  deadline_ = deadline;
  // A pending timer that fires earlier re-arms for this deadline when it fires: re-arming per
  // request would take the timer wheel's lock on every request.
  if (timer_pending_ && timer_due_ <= deadline) return;
  if (timer_pending_) cancel_timer(timer_);  // it fires too late for this deadline
  // Closing the connection cancels the timer: no callback reaches a closed connection.
  timer_ = start_timer(deadline - Clock::now(), [this] { deadline_timer_fired(); });
  if (!timer_.valid()) return;
  timer_pending_ = true;
  timer_due_ = deadline;
}

void HttpConnection::deadline_timer_fired() {
  timer_pending_ = false;
  timer_due_ = Clock::time_point::max();
  if (deadline_ == Clock::time_point::max()) return;
  const Clock::time_point now = Clock::now();
  if (now < deadline_) {
    set_deadline(deadline_);
    return;
  }
  clear_deadline();
  if (closing_) {
    force_close();  // the client neither closed nor stopped sending
  } else if (waiting_for_head_ && parser_.started()) {
    reject(408);
  } else if (waiting_for_head_) {
    close_gracefully();  // an idle keep-alive connection: nothing to answer
    set_deadline(now + service_->options().linger_timeout);
  }
}

}  // namespace lf
