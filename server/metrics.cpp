// server/metrics.cpp - see metrics.h.
#include "server/metrics.h"

#include <array>
#include <charconv>

namespace bertlite::server {
namespace {

// Latency buckets from 1 ms (one short sentence on this encoder) to 30 s (a full batch of long
// inputs behind a long queue).
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30};
constexpr std::array<std::string_view, 11> kRoutes = {
    "/embed", "/predict",       "/tokenize",     "/info", "/health",   "/metrics",
    "/",      "/v1/embeddings", "/openapi.json", "/docs", "/v1/models"};

void append_number(std::string& out, double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::size_t b = 0;
  while (b < bounds_.size() && value > bounds_[b]) ++b;
  ++counts_[b];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string sep = labels.empty() ? "" : std::string(labels) + ",";
  std::int64_t cumulative = 0;
  for (std::size_t b = 0; b <= bounds_.size(); ++b) {
    cumulative += counts_[b];
    out += std::string(name) + "_bucket{" + sep + "le=\"";
    if (b < bounds_.size()) {
      append_number(out, bounds_[b]);
    } else {
      out += "+Inf";
    }
    out += "\"} " + std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += std::string(name) + "_sum" + braces + " ";
  append_number(out, sum_);
  out += "\n" + std::string(name) + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : batch_sequences_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512}),
      batch_tokens_({16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768}),
      batch_seconds_(kLatencyBounds) {}

std::string_view Metrics::route_label(std::string_view path) {
  for (std::string_view route : kRoutes) {
    if (path == route) return route;
  }
  return "other";
}

void Metrics::count_request(std::string_view path, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route_label(path)), status}];
}

void Metrics::observe_latency(std::string_view path, double seconds) {
  std::lock_guard lock(mutex_);
  const std::string route(route_label(path));
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(route, Histogram(kLatencyBounds)).first;
  it->second.observe(seconds);
}

void Metrics::add_tokens(std::string_view path, std::int64_t tokens) {
  std::lock_guard lock(mutex_);
  tokens_[std::string(route_label(path))] += tokens;
}

void Metrics::observe_batch(const BatchRecord& batch) {
  std::lock_guard lock(mutex_);
  batch_sequences_.observe(static_cast<double>(batch.sequences));
  batch_tokens_.observe(static_cast<double>(batch.tokens));
  batch_seconds_.observe(batch.seconds);
}

std::string Metrics::render(const BatcherStats& queue, std::int64_t in_flight) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP bertlite_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE bertlite_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "bertlite_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP bertlite_request_duration_seconds Time from routing to response, by route.\n";
  out += "# TYPE bertlite_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    h.render(out, "bertlite_request_duration_seconds", "route=\"" + route + "\"");
  }
  out +=
      "# HELP bertlite_input_tokens_total Tokens of accepted inputs (special tokens included).\n";
  out += "# TYPE bertlite_input_tokens_total counter\n";
  for (const auto& [route, n] : tokens_) {
    out += "bertlite_input_tokens_total{route=\"" + route + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP bertlite_batch_sequences Sequences per forward pass.\n";
  out += "# TYPE bertlite_batch_sequences histogram\n";
  batch_sequences_.render(out, "bertlite_batch_sequences", "");
  out += "# HELP bertlite_batch_tokens Real tokens per forward pass.\n";
  out += "# TYPE bertlite_batch_tokens histogram\n";
  batch_tokens_.render(out, "bertlite_batch_tokens", "");
  out += "# HELP bertlite_batch_duration_seconds Time per forward pass.\n";
  out += "# TYPE bertlite_batch_duration_seconds histogram\n";
  batch_seconds_.render(out, "bertlite_batch_duration_seconds", "");
  out += "# HELP bertlite_queue_requests Requests queued or running.\n";
  out += "# TYPE bertlite_queue_requests gauge\n";
  out += "bertlite_queue_requests " + std::to_string(queue.queued_requests) + "\n";
  out += "# HELP bertlite_queue_sequences Sequences waiting for a batch.\n";
  out += "# TYPE bertlite_queue_sequences gauge\n";
  out += "bertlite_queue_sequences " + std::to_string(queue.queued_sequences) + "\n";
  out += "# HELP bertlite_queue_tokens Tokens waiting for a batch.\n";
  out += "# TYPE bertlite_queue_tokens gauge\n";
  out += "bertlite_queue_tokens " + std::to_string(queue.queued_tokens) + "\n";
  out += "# HELP bertlite_in_flight_requests HTTP requests being handled.\n";
  out += "# TYPE bertlite_in_flight_requests gauge\n";
  out += "bertlite_in_flight_requests " + std::to_string(in_flight) + "\n";
  return out;
}

}  // namespace bertlite::server
