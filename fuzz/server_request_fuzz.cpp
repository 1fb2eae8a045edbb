// fuzz/server_request_fuzz.cpp - fuzz target: arbitrary bytes as what a client sends to
// `bertlite serve` (request lines, headers, bodies, pipelined requests, TEI and OpenAI JSON).
//
// The harness starts the real HTTP server once per process on a loopback port, with the tiny
// BERT fixture (tests/data/encoder/bert_tiny) behind it, sends each input over a new
// connection as is, and reads the answer: up to the first whole response, the end of the
// stream, or 40 ms of quiet (an incomplete request is answered only at the server's read
// timeout; hanging up sooner keeps inputs fast). cpp-httplib parses the request, the routes
// parse the JSON. What the harness learned about cpp-httplib: it does not answer a client that
// has half-closed its side, and answers one request per read, so a pipelined second request
// waits for the keep-alive timeout.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - the server never crashes, trips a sanitizer, or answers 500 (an input the routes did not
//     expect is a 4xx);
//   - a response starts with an HTTP/1.1 status line and, when it has a body, says how long it
//     is; a 4xx body is TEI's JSON error, {"error": ..., "error_type": ...};
//   - afterwards the server still serves: GET /health on a new connection answers 200.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "loopback.h"
#include "server/http_server.h"
#include "server/service.h"

namespace bertlite::fuzz {
namespace {

constexpr int kReadTimeoutSeconds = 1;

struct RunningServer {
  std::unique_ptr<server::HttpServer> http;
  std::shared_ptr<server::Service> service;
  std::thread listener;
  int port = 0;
};

RunningServer* the_server = nullptr;

// At exit, as `bertlite serve` does on SIGTERM: stop accepting, let listen() return, stop the
// queue's worker. Left running, the worker and connection threads would still be executing
// while the process tears down the libraries under them (oneDNN's JIT code included), which
// crashes a fork-mode job at its end.
void stop_server() {
  the_server->http->shutdown();
  the_server->listener.join();
  the_server->http->set_service(nullptr);
  the_server->service->stop();
}

const RunningServer& running_server() {
  if (the_server) return *the_server;
  server::HttpOptions options;
  options.port = 0;
  options.http_threads = 4;
  options.read_timeout_seconds = kReadTimeoutSeconds;
  options.write_timeout_seconds = kReadTimeoutSeconds;
  options.keep_alive_seconds = kReadTimeoutSeconds;
  options.payload_limit = 4096;  // bodies near the limit are reachable with short inputs
  // Never destroyed (stop_server() stops its threads): statics other libraries registered
  // before it may already be gone by the time a destructor would run.
  the_server = new RunningServer;
  the_server->http = std::make_unique<server::HttpServer>(options);
  the_server->port = the_server->http->bind();
  the_server->listener = std::thread([http = the_server->http.get()] { http->listen(); });
  server::ServiceOptions service;
  service.model = BERTLITE_SOURCE_DIR "/tests/data/encoder/bert_tiny";
  service.max_batch_tokens = 64;
  service.max_client_batch_size = 4;
  service.max_concurrent_requests = 8;
  the_server->service = server::Service::load(service);
  the_server->http->set_service(the_server->service);
  std::atexit(stop_server);
  return *the_server;
}

int connect_to(int port) {
  const int s = connect_loopback(port);
  if (s < 0) {
    std::perror("server_request_fuzz: cannot connect to the server");
    __builtin_trap();  // the server stopped listening: a finding
  }
  // Sending a large input to a server that stopped reading must not block forever.
  timeval timeout{4 * kReadTimeoutSeconds, 0};
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return s;
}

constexpr std::string_view kHealth = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
// How long a quiet connection is waited on. An incomplete request gets no answer until the
// server's read timeout; the harness hangs up sooner (the server then reads the end of the
// stream), so such inputs cost milliseconds, not a second.
constexpr int kQuietMilliseconds = 40;
// The health check's answer is waited for properly: on a loaded machine it can take longer
// than the quiet spell, and a missing answer there is a finding.
constexpr int kHealthMilliseconds = 4000;

std::optional<std::string> header(std::string_view head, std::string_view name) {
  for (std::size_t line = head.find("\r\n"); line != std::string_view::npos;) {
    const std::size_t start = line + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view text =
        head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const std::size_t colon = text.find(':');
    if (colon == name.size() &&
        std::equal(name.begin(), name.end(), text.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view value = text.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    line = end;
  }
  return std::nullopt;
}

// Whether `reply` holds one whole response: its head, and as many body bytes as it announced.
bool has_whole_response(std::string_view reply) {
  const std::size_t end_of_head = reply.find("\r\n\r\n");
  if (end_of_head == std::string_view::npos) return false;
  const std::optional<std::string> length = header(reply.substr(0, end_of_head), "Content-Length");
  return !length || reply.size() - end_of_head - 4 >= std::strtoull(length->c_str(), nullptr, 10);
}

// Sends `request` and returns what the server sent back: up to its first whole response, the
// end of the stream, or a quiet spell. cpp-httplib answers one request per read of the socket
// (a pipelined second request waits for the keep-alive timeout), so only the first response
// is waited for.
std::string send_and_receive(int port, std::string_view request,
                             int quiet_milliseconds = kQuietMilliseconds) {
  const int s = connect_to(port);
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = retry_on_eintr(
        [&] { return ::send(s, request.data() + sent, request.size() - sent, MSG_NOSIGNAL); });
    if (n <= 0) break;  // the server may close early, e.g. on a body over the limit
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buffer[8192];
  while (!has_whole_response(reply)) {
    pollfd ready{s, POLLIN, 0};
    if (retry_on_eintr([&] { return ::poll(&ready, 1, quiet_milliseconds); }) == 0) break;
    const ssize_t n = retry_on_eintr([&] { return ::recv(s, buffer, sizeof buffer, 0); });
    if (n <= 0) break;  // closed, or reset after a request it would not read
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(s);
  return reply;
}

// Checks the first response in `reply` (if any) and returns its status (0 if none).
int check_response(std::string_view reply) {
  if (reply.empty()) return 0;
  FUZZ_CHECK(reply.starts_with("HTTP/1.1 ") && reply.size() >= 12);
  const int status = std::atoi(std::string(reply.substr(9, 3)).c_str());
  FUZZ_CHECK(status >= 100 && status <= 599);
  FUZZ_CHECK(status != 500);
  const std::size_t end_of_head = reply.find("\r\n\r\n");
  FUZZ_CHECK(end_of_head != std::string_view::npos);
  const std::optional<std::string> length = header(reply.substr(0, end_of_head), "Content-Length");
  const std::string_view rest = reply.substr(end_of_head + 4);
  if (!length) {
    FUZZ_CHECK(rest.empty());
    return status;
  }
  // A HEAD request's answer announces a length and sends no body.
  const std::size_t size = std::strtoull(length->c_str(), nullptr, 10);
  if (rest.size() < size) return status;
  const std::string_view body = rest.substr(0, size);
  if (status >= 400 && status < 500 && !body.empty()) {
    const nlohmann::json error = nlohmann::json::parse(body, nullptr, false);
    FUZZ_CHECK(error.is_object() && error.contains("error") && error.contains("error_type"));
  }
  return status;
}

void run(const std::uint8_t* data, std::size_t size) {
  const RunningServer& server = running_server();
  const std::string reply =
      send_and_receive(server.port, std::string_view(reinterpret_cast<const char*>(data), size));
  const int status = check_response(reply);
  trace("status", std::to_string(status));

  const std::string health = send_and_receive(server.port, kHealth, kHealthMilliseconds);
  FUZZ_CHECK(health.starts_with("HTTP/1.1 200"));
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
