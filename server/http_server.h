// server/http_server.h - the HTTP front of a Service: text-embeddings-inference's routes and
// JSON shapes, OpenAI's /v1/embeddings, /metrics and /openapi.json, over cpp-httplib.
//
//   server::HttpServer http({.host = "127.0.0.1", .port = 3000});
//   int port = http.bind();                  // answers 503 until a service is attached
//   std::thread t([&] { http.listen(); });
//   http.set_service(server::Service::load({}));
//   ...                                      // on SIGTERM:
//   http.shutdown();                         // refuse new work, finish in-flight
//   t.join();
//
// Routes (docs/serve.md has the shapes): POST /embed, /predict, /tokenize, /v1/embeddings and
// / (predict when a classifier is loaded, else embed, as TEI); GET /info, /health, /metrics,
// /openapi.json. Errors are TEI's {"error", "error_type"} with the status of server/errors.h.
// Requests carry text only: nothing in a request names a file or path.
//
// Bounded cost per client: a body over `payload_limit` is refused (413) while it is read,
// reads and writes time out, keep-alive connections serve a bounded number of requests, and
// the queue refuses work beyond --max-concurrent-requests with 429.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "server/metrics.h"
#include "server/service.h"

namespace httplib {
class Server;
}

namespace bertlite::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 3000;  // 0: any free port (bind() returns it)
  // When set, every route but /health needs "Authorization: Bearer <api_key>".
  std::string api_key;
  std::size_t payload_limit = 2'000'000;  // bytes of request body (TEI's --payload-limit)
  // Connection threads: each holds one connection (a request waiting for the queue included).
  int http_threads = 520;
  int read_timeout_seconds = 5;
  int write_timeout_seconds = 5;
  int keep_alive_seconds = 5;
  int keep_alive_max_requests = 100;
};

class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; returns the port. Throws IoError when the address cannot be bound.
  int bind();
  // Serves until shutdown(); returns once every in-flight request has been answered.
  void listen();
  // From then on, requests are served by `service` (until then: 503 "loading").
  void set_service(std::shared_ptr<Service> service);
  // Stops accepting connections, answers 503 to requests that still arrive on open ones, and
  // makes listen() return when in-flight requests are done. Safe from any thread, idempotent.
  void shutdown();

  Metrics& metrics() { return metrics_; }

 private:
  void install_routes();

  HttpOptions options_;
  std::unique_ptr<httplib::Server> http_;
  Metrics metrics_;
  std::mutex service_mutex_;
  std::shared_ptr<Service> service_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> started_{false};   // listen() entered
  int listening_socket_ = -1;          // set by bind(), through cpp-httplib's socket options
  std::atomic<bool> finished_{false};  // listen() returned
  std::atomic<std::int64_t> in_flight_{0};
};

}  // namespace bertlite::server
