// Public. HttpConnection: one HTTP/1.1 server connection (keep-alive, pipelining, HTTP/1.0),
// answering through a shared HttpService (http_service.h shows the wiring):
//
//   server.listen<lf::HttpConnection>(address, listen_options,
//                                     std::shared_ptr<const lf::HttpService>(service));
//
// Requests are parsed in place in the input buffer and answered in order; a request that cannot
// be served (malformed, too large, unsupported, too slow) gets its error status, then the
// connection closes gracefully. Runs on ThreadSet threads like every StreamConnection.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "lf/handlers/http/http_parser.h"
#include "lf/handlers/http/http_request.h"
#include "lf/handlers/http/http_response.h"
#include "lf/handlers/http/http_service.h"
#include "lf/net/stream_connection.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class HttpConnection : public StreamConnection {
 public:
  explicit HttpConnection(std::shared_ptr<const HttpService> service);

 protected:
  void on_connect() override;
  void on_message(Buffer& input) override;
  void on_write_complete() override;

 private:
  using Clock = std::chrono::steady_clock;

  // Returns the response's status.
  int answer(const HttpRequest& request);
  void send_response(HttpResponse& response, bool head_only, bool keep_alive, int version_minor);
  // Answers `status` to a request that cannot be served, then closes.
  void reject(int status);
  // Half-closes once the output is sent; input that still arrives is discarded, until the
  // client closes or the linger timeout. After a closing answer to a request read in full
  // (`answered`), the choice waits for the end of on_message(): nothing more from the client
  // then closes once the answer is sent, as nginx does (StreamConnection::close_when_sent).
  void close_gracefully(bool answered = false);
  // The header timeout starts: a new request is awaited.
  void wait_for_head();
  // The one deadline this connection keeps (header timeout, or linger while closing).
  void set_deadline(Clock::time_point deadline);
  // The pending timer fired: act on the deadline if it has passed, else re-arm for it.
  void deadline_timer_fired();
  void clear_deadline() noexcept { deadline_ = Clock::time_point::max(); }

  std::shared_ptr<const HttpService> service_;
  HttpParser parser_;
  HttpRequest request_;  // reused: its header vectors keep their capacity
  std::string head_;     // response head scratch, reused
  bool closing_ = false;
  bool close_after_answer_ = false;  // close_gracefully(true): decided at on_message()'s end
  bool waiting_for_head_ = false;
  bool writing_answer_ = false;  // an answer is queued: no head timeout until it is written
  bool continue_sent_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  // The earliest timer started and not yet fired; later deadlines re-arm when it fires.
  bool timer_pending_ = false;
  Clock::time_point timer_due_ = Clock::time_point::max();
  TimerId timer_;
};

}  // namespace lf
