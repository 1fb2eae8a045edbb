// server/metrics.h - the counters behind GET /metrics, in Prometheus' text format (0.0.4).
//
// Requests by route and status, request latency by route, forward passes (sequences and
// tokens per batch, seconds per batch), input tokens by route; the queue's depth is read at
// render time. Routes are a fixed list (anything else is "other"), so a client cannot grow
// the label set. Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/batcher.h"

namespace bertlite::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // `name`_bucket{le=...}, _sum and _count lines; `labels` is "" or `key="value"`.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> counts_;  // per bound, not cumulative; one more for +Inf
  double sum_ = 0;
  std::int64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // The metrics label of a request path: the route itself, or "other".
  static std::string_view route_label(std::string_view path);

  void count_request(std::string_view path, int status);
  void observe_latency(std::string_view path, double seconds);
  void add_tokens(std::string_view path, std::int64_t tokens);
  void observe_batch(const BatchRecord& batch);

  std::string render(const BatcherStats& queue, std::int64_t in_flight) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::int64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, std::int64_t> tokens_;
  Histogram batch_sequences_;
  Histogram batch_tokens_;
  Histogram batch_seconds_;
};

}  // namespace bertlite::server
