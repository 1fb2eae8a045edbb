// server/http_server.cpp - see http_server.h.
#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/errors.h"
#include "server/openapi.h"
#include "util/utf8.h"

namespace bertlite::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kVersion = "0.1.0";

[[noreturn]] void invalid(const std::string& message) {
  throw RequestError(ErrorKind::kValidation, message);
}

// JSON text that is always valid UTF-8, whatever a message holds.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void write_error(httplib::Response& res, ErrorKind kind, const std::string& message) {
  res.status = http_status(kind);
  if (kind == ErrorKind::kOverloaded || kind == ErrorKind::kUnhealthy) {
    res.set_header("Retry-After", "1");
  }
  if (kind == ErrorKind::kUnauthorized) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(dump({{"error", message}, {"error_type", error_type(kind)}}), "application/json");
}

// The request body as a JSON object. Invalid UTF-8 is named by byte before JSON parsing, which
// would only say "ill-formed UTF-8".
json parse_body(const httplib::Request& req) {
  const std::size_t bad = util::find_invalid_utf8(req.body);
  if (bad != std::string_view::npos) {
    throw RequestError(ErrorKind::kTokenizer,
                       "request body: invalid UTF-8 at byte " + std::to_string(bad));
  }
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    invalid(std::string("request body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) invalid("request body must be a JSON object");
  return body;
}

// Unknown fields are refused rather than ignored, so a misspelt option never goes unnoticed.
void check_fields(const json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      invalid("unknown field `" + key + "`");
    }
  }
}

const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::optional<bool> optional_bool(const json& body, const char* name) {
  const json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) invalid(std::string("`") + name + "` must be a boolean");
  return v->get<bool>();
}

const json& required(const json& body, const char* name) {
  const json* v = field(body, name);
  if (v == nullptr) invalid(std::string("missing field `") + name + "`");
  return *v;
}

// A string or a list of strings; `single` says which was sent.
std::vector<std::string> string_list(const json& v, const char* name, bool* single = nullptr) {
  if (single != nullptr) *single = v.is_string();
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) invalid(std::string("`") + name + "` must be a string or a list of strings");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const json& item : v) {
    if (!item.is_string()) invalid(std::string("`") + name + "` must hold strings only");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// TEI's truncation_direction and prompt_name: only what bertlite does is accepted.
void check_tei_options(const json& body) {
  if (const json* d = field(body, "truncation_direction")) {
    if (!d->is_string()) invalid("`truncation_direction` must be \"Right\" or \"Left\"");
    const std::string s = d->get<std::string>();
    if (s == "Left" || s == "left") invalid("`truncation_direction` Left is not supported");
    if (s != "Right" && s != "right")
      invalid("`truncation_direction` must be \"Right\" or \"Left\"");
  }
  if (field(body, "prompt_name") != nullptr) invalid("`prompt_name`: no prompts are configured");
}

void check_dimensions(const json& body, std::int64_t hidden) {
  if (const json* d = field(body, "dimensions")) {
    if (!d->is_number_integer() || d->get<std::int64_t>() != hidden) {
      invalid("`dimensions` must be the model's " + std::to_string(hidden) +
              " (no truncated embeddings)");
    }
  }
}

void append_float(std::string& out, float value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  // Shortest text that reads back as the same float32: exact and compact.
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_row(std::string& out, const float* row, std::int64_t cols) {
  out += '[';
  for (std::int64_t c = 0; c < cols; ++c) {
    if (c > 0) out += ',';
    append_float(out, row[c]);
  }
  out += ']';
}

std::string base64(const float* data, std::int64_t count) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Little-endian float32 bytes, as OpenAI's encoding_format=base64 (x86 is little-endian).
  std::string bytes(reinterpret_cast<const char*>(data), static_cast<std::size_t>(count) * 4);
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                   (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  // Constant time in the content, so response timing does not reveal a prefix of the key.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

json labels_json(const std::vector<LabelScore>& row) {
  json out = json::array();
  for (const LabelScore& s : row) out.push_back({{"label", s.label}, {"score", s.score}});
  return out;
}

// ---- Route bodies --------------------------------------------------------------------------

void embed_route(const httplib::Request& req, httplib::Response& res, Service& service,
                 Metrics& metrics) {
  const json body = parse_body(req);
  check_fields(body, {"inputs", "normalize", "truncate", "truncation_direction", "prompt_name",
                      "dimensions", "encoding_format"});
  check_tei_options(body);
  check_dimensions(body, service.info().hidden);
  if (const json* f = field(body, "encoding_format")) {
    if (*f != "float")
      invalid("`encoding_format` of /embed must be \"float\" (see /v1/embeddings)");
  }
  const std::vector<std::string> inputs = string_list(required(body, "inputs"), "inputs");
  EmbedRequest request;
  request.normalize = optional_bool(body, "normalize").value_or(true);
  request.truncate = optional_bool(body, "truncate");
  const EmbedResult r = service.embed(inputs, request);
  metrics.add_tokens(req.path, r.tokens);
  std::string out;
  out.reserve(static_cast<std::size_t>(r.rows * r.cols) * 12 + 2);
  out += '[';
  for (std::int64_t i = 0; i < r.rows; ++i) {
    if (i > 0) out += ',';
    append_row(out, r.data.data() + i * r.cols, r.cols);
  }
  out += ']';
  res.set_content(out, "application/json");
}

void openai_embeddings_route(const httplib::Request& req, httplib::Response& res, Service& service,
                             Metrics& metrics) {
  const json body = parse_body(req);
  check_fields(body, {"input", "model", "encoding_format", "dimensions", "user"});
  check_dimensions(body, service.info().hidden);
  bool use_base64 = false;
  if (const json* f = field(body, "encoding_format")) {
    if (*f == "base64") {
      use_base64 = true;
    } else if (*f != "float") {
      invalid("`encoding_format` must be \"float\" or \"base64\"");
    }
  }
  std::string model = service.info().model_id;
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) invalid("`model` must be a string");
    model = m->get<std::string>();
  }
  if (const json* u = field(body, "user"); u != nullptr && !u->is_string()) {
    invalid("`user` must be a string");
  }
  const std::vector<std::string> inputs = string_list(required(body, "input"), "input");
  EmbedRequest request;
  request.normalize = true;
  const EmbedResult r = service.embed(inputs, request);
  metrics.add_tokens(req.path, r.tokens);
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (std::int64_t i = 0; i < r.rows; ++i) {
    if (i > 0) out += ',';
    out += "{\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
    const float* row = r.data.data() + i * r.cols;
    if (use_base64) {
      out += '"' + base64(row, r.cols) + '"';
    } else {
      append_row(out, row, r.cols);
    }
    out += '}';
  }
  out += "],\"model\":" + dump(model) +
         ",\"usage\":{\"prompt_tokens\":" + std::to_string(r.tokens) +
         ",\"total_tokens\":" + std::to_string(r.tokens) + "}}";
  res.set_content(out, "application/json");
}

PredictInput predict_input(const json& v) {
  if (v.is_string()) return {v.get<std::string>(), std::nullopt};
  // ["a"]: one text, so that two single texts can be sent as [["a"], ["b"]] (["a", "b"] is a
  // pair, as TEI reads it).
  if (v.is_array() && v.size() == 1 && v[0].is_string()) return {v[0].get<std::string>(), {}};
  if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) {
    return {v[0].get<std::string>(), v[1].get<std::string>()};
  }
  invalid("`inputs` must be a string, a pair [string, string], or a list of those");
}

void predict_route(const httplib::Request& req, httplib::Response& res, Service& service,
                   Metrics& metrics) {
  const json body = parse_body(req);
  check_fields(body, {"inputs", "raw_scores", "truncate", "truncation_direction", "parameters"});
  check_tei_options(body);
  PredictRequest request;
  if (optional_bool(body, "raw_scores").value_or(false)) request.function = ScoreFunction::kNone;
  request.truncate = optional_bool(body, "truncate");
  // huggingface_hub's text_classification sends {"parameters": {function_to_apply, top_k}}.
  if (const json* p = field(body, "parameters")) {
    if (!p->is_object()) invalid("`parameters` must be an object");
    check_fields(*p, {"function_to_apply", "top_k"});
    if (const json* f = field(*p, "function_to_apply")) {
      if (*f == "softmax") {
        request.function = ScoreFunction::kSoftmax;
      } else if (*f == "sigmoid") {
        request.function = ScoreFunction::kSigmoid;
      } else if (*f == "none") {
        request.function = ScoreFunction::kNone;
      } else {
        invalid("`function_to_apply` must be \"softmax\", \"sigmoid\" or \"none\"");
      }
    }
    if (const json* k = field(*p, "top_k")) {
      if (!k->is_number_integer() || k->get<std::int64_t>() < 1) {
        invalid("`top_k` must be a positive integer");
      }
      request.top_k = k->get<std::size_t>();
    }
  }
  // TEI's shapes: a string or one [a, b] pair is a single input; any other list is a batch.
  const json& inputs_json = required(body, "inputs");
  std::vector<PredictInput> inputs;
  bool single = false;
  if (inputs_json.is_string() || (inputs_json.is_array() && inputs_json.size() == 2 &&
                                  inputs_json[0].is_string() && inputs_json[1].is_string())) {
    single = true;
    inputs.push_back(predict_input(inputs_json));
  } else if (inputs_json.is_array()) {
    for (const json& item : inputs_json) inputs.push_back(predict_input(item));
  } else {
    predict_input(inputs_json);  // throws, naming the accepted shapes
  }
  const PredictResult r = service.predict(inputs, request);
  metrics.add_tokens(req.path, r.tokens);
  json out;
  // The Hugging Face Inference API's request shape (huggingface_hub's text_classification
  // always sends "parameters") answers a list per input even for one string; TEI's shape
  // answers one string or pair with a flat list.
  if (single && !body.contains("parameters")) {
    out = labels_json(r.rows.front());
  } else {
    out = json::array();
    for (const auto& row : r.rows) out.push_back(labels_json(row));
  }
  res.set_content(dump(out), "application/json");
}

void tokenize_route(const httplib::Request& req, httplib::Response& res, Service& service,
                    Metrics& metrics) {
  const json body = parse_body(req);
  check_fields(body, {"inputs", "add_special_tokens", "prompt_name"});
  check_tei_options(body);
  const std::vector<std::string> inputs = string_list(required(body, "inputs"), "inputs");
  const bool special = optional_bool(body, "add_special_tokens").value_or(true);
  const std::vector<Encoding> encodings = service.tokenize(inputs, special);
  json out = json::array();
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    const Encoding& e = encodings[i];
    tokens += static_cast<std::int64_t>(e.size());
    json row = json::array();
    for (std::size_t t = 0; t < e.size(); ++t) {
      const bool is_special = e.special_tokens_mask[t] == 1;
      json token = {{"id", e.ids[t]}, {"special", is_special}};
      if (is_special) {
        // As TEI: the token itself, no position in the text.
        token["text"] = std::string(service.token(e.ids[t]));
        token["start"] = nullptr;
        token["stop"] = nullptr;
      } else {
        const Offset o = e.offsets[t];
        token["text"] = inputs[i].substr(o.begin, o.end - o.begin);
        token["start"] = o.begin;
        token["stop"] = o.end;
      }
      row.push_back(std::move(token));
    }
    out.push_back(std::move(row));
  }
  metrics.add_tokens(req.path, tokens);
  res.set_content(dump(out), "application/json");
}

json info_json(const Service& service) {
  const ModelInfo& info = service.info();
  const ServiceOptions& options = service.options();
  json model_type;
  if (info.classifier_kind.empty()) {
    model_type = {{"embedding", {{"pooling", info.pooling}}}};
  } else {
    json id2label = json::object(), label2id = json::object();
    for (std::size_t i = 0; i < info.labels.size(); ++i) {
      id2label[std::to_string(i)] = info.labels[i];
      label2id[info.labels[i]] = i;
    }
    model_type = {{"classifier", {{"id2label", id2label}, {"label2id", label2id}}}};
  }
  return {
      {"model_id", info.model_id},
      {"model_sha", nullptr},
      {"model_dtype", info.precision == "fp32" ? "float32" : info.precision},
      {"model_type", model_type},
      {"max_concurrent_requests", options.max_concurrent_requests},
      {"max_input_length", info.max_input_length},
      {"max_batch_tokens", options.max_batch_tokens},
      {"max_batch_requests",
       options.max_batch_requests > 0 ? json(options.max_batch_requests) : json(nullptr)},
      {"max_client_batch_size", options.max_client_batch_size},
      {"auto_truncate", options.auto_truncate},
      {"tokenization_workers", nullptr},
      {"version", kVersion},
      {"sha", nullptr},
      {"docker_label", nullptr},
      // bertlite's own: what the TEI fields cannot say.
      {"embedding_pooling", info.pooling},
      {"hidden_size", info.hidden},
      {"classifier", info.classifier_kind.empty() ? json(nullptr) : json(info.classifier_kind)},
      {"long_text", info.long_text},
      {"stride", info.long_text == "window" ? json(info.stride) : json(nullptr)},
      {"window_pooling", info.window_pooling.empty() ? json(nullptr) : json(info.window_pooling)},
  };
}

}  // namespace

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kValidation:
      return 422;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kTokenizer:
      return 422;
    case ErrorKind::kEmpty:
      return 400;
    case ErrorKind::kOverloaded:
      return 429;
    case ErrorKind::kUnhealthy:
      return 503;
    case ErrorKind::kUnauthorized:
      return 401;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kBackend:
      return 500;
  }
  return 500;
}

const char* error_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kValidation:
      return "validation";
    case ErrorKind::kTooLarge:
      return "validation";
    case ErrorKind::kTokenizer:
      return "tokenizer";
    case ErrorKind::kEmpty:
      return "empty";
    case ErrorKind::kOverloaded:
      return "overloaded";
    case ErrorKind::kUnhealthy:
      return "unhealthy";
    case ErrorKind::kUnauthorized:
      return "unauthorized";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kBackend:
      return "backend";
  }
  return "backend";
}

HttpServer::HttpServer(HttpOptions options)
    : options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(4, options_.http_threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.payload_limit);
  http_->set_read_timeout(options_.read_timeout_seconds, 0);
  http_->set_write_timeout(options_.write_timeout_seconds, 0);
  http_->set_keep_alive_timeout(options_.keep_alive_seconds);
  http_->set_keep_alive_max_count(static_cast<std::size_t>(options_.keep_alive_max_requests));
  http_->set_tcp_nodelay(true);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server bind the same
  // port and silently take half its connections; a port in use must be an error instead.
  http_->set_socket_options([this](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening_socket_ = sock;
  });
  install_routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
  } else if (!http_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw IoError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                  " (address in use, or not an address of this machine)");
  }
  // Debian's cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into
  // its library): 64 clients connecting at once got "connection reset by peer". Listening again
  // on the same socket only widens its queue.
  if (listening_socket_ >= 0) ::listen(listening_socket_, SOMAXCONN);
  return port;
}

void HttpServer::listen() {
  // started_ before draining_ here, draining_ before started_ in shutdown(): one of the two
  // always sees the other, so a shutdown() racing this call is never lost.
  started_ = true;
  if (!draining_) http_->listen_after_bind();
  finished_ = true;
}

void HttpServer::set_service(std::shared_ptr<Service> service) {
  std::lock_guard lock(service_mutex_);
  service_ = std::move(service);
}

void HttpServer::shutdown() {
  if (draining_.exchange(true)) return;
  if (!started_) return;  // listen() has not begun: it will see draining_ and return
  // listen() has begun: wait until cpp-httplib runs its loop (stop() does nothing before), or
  // until listen() returned by itself. stop() closes the listening socket; the connection
  // threads finish the requests they hold (the queue runs until the service is stopped, after
  // listen() returns), and idle keep-alive connections close within keep_alive_seconds.
  while (!finished_) {
    if (http_->is_running()) {
      http_->stop();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpServer::install_routes() {
  using Body = void (*)(const httplib::Request&, httplib::Response&, Service&, Metrics&);
  // Every route goes through here: draining, the API key, the loaded service, errors as JSON,
  // latency.
  const auto wrap = [this](bool needs_service, auto&& body) {
    return [this, needs_service, body](const httplib::Request& req, httplib::Response& res) {
      const auto start = Clock::now();
      ++in_flight_;
      try {
        if (draining_) throw RequestError(ErrorKind::kUnhealthy, "the server is shutting down");
        if (!options_.api_key.empty() && req.path != "/health") {
          const std::string header = req.get_header_value("Authorization");
          if (!header.starts_with("Bearer ") ||
              !same_secret(std::string_view(header).substr(7), options_.api_key)) {
            throw RequestError(ErrorKind::kUnauthorized, "missing or wrong Bearer token");
          }
        }
        std::shared_ptr<Service> service;
        {
          std::lock_guard lock(service_mutex_);
          service = service_;
        }
        if (needs_service && !service) {
          throw RequestError(ErrorKind::kUnhealthy, "the model is loading");
        }
        body(req, res, service.get());
      } catch (const RequestError& e) {
        write_error(res, e.kind(), e.what());
      } catch (const std::exception& e) {
        // Inputs are checked before they are queued: anything else is a bug.
        write_error(res, ErrorKind::kBackend, std::string("internal error: ") + e.what());
      }
      --in_flight_;
      metrics_.observe_latency(req.path,
                               std::chrono::duration<double>(Clock::now() - start).count());
    };
  };
  const auto post = [this, wrap](const char* path, Body body) {
    http_->Post(path,
                wrap(true, [this, body](const httplib::Request& req, httplib::Response& res,
                                        Service* service) { body(req, res, *service, metrics_); }));
  };
  post("/embed", embed_route);
  post("/predict", predict_route);
  post("/tokenize", tokenize_route);
  post("/v1/embeddings", openai_embeddings_route);
  // TEI's catch-all POST /: the model's task.
  post("/",
       [](const httplib::Request& req, httplib::Response& res, Service& service, Metrics& metrics) {
         if (service.info().classifier_kind.empty()) {
           embed_route(req, res, service, metrics);
         } else {
           predict_route(req, res, service, metrics);
         }
       });
  http_->Get("/info",
             wrap(true, [](const httplib::Request&, httplib::Response& res, Service* service) {
               res.set_content(dump(info_json(*service)), "application/json");
             }));
  http_->Get("/health", wrap(true, [](const httplib::Request&, httplib::Response& res, Service*) {
               res.status = 200;
             }));
  http_->Get("/metrics",
             wrap(false, [this](const httplib::Request&, httplib::Response& res, Service* service) {
               const BatcherStats stats = service ? service->queue_stats() : BatcherStats{};
               res.set_content(metrics_.render(stats, in_flight_.load()),
                               "text/plain; version=0.0.4");
             }));
  http_->Get("/openapi.json",
             wrap(false, [](const httplib::Request&, httplib::Response& res, Service* service) {
               const std::int64_t batch = service ? service->options().max_client_batch_size
                                                  : ServiceOptions{}.max_client_batch_size;
               res.set_content(openapi_document(batch, service ? service->info().hidden : 0),
                               "application/json");
             }));

  // Errors cpp-httplib answers itself (no route, body over the limit, a malformed request)
  // get the same JSON shape as ours.
  const httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req,
                                                               httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      write_error(res, ErrorKind::kTooLarge,
                  "request body over the limit of " + std::to_string(options_.payload_limit) +
                      " bytes (--payload-limit)");
    } else if (res.status == 404) {
      write_error(res, ErrorKind::kNotFound, "no route " + req.method + " " + req.path);
    } else {
      const int status = res.status;
      res.set_content(dump({{"error", "bad request"}, {"error_type", "validation"}}),
                      "application/json");
      res.status = status;
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  http_->set_error_handler(on_error);
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.count_request(req.path, res.status);
  });
}

}  // namespace bertlite::server
