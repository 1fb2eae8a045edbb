// ui/ui_server.cpp - see ui_server.h.
#include "ui/ui_server.h"

#include <httplib.h>
#include <pthread.h>

#include <cmath>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "bertlite/error.h"
#include "ui/explain.h"

namespace bertlite::ui {
namespace {

using nlohmann::json;

// Four decimals are more than a picture shows and keep a 12-head, 6-layer answer small.
double rounded(double v) {
  return std::round(v * 1e4) / 1e4;
}

std::size_t find_model(const std::vector<LoadedModel>& models, const std::string& name) {
  for (std::size_t i = 0; i < models.size(); ++i)
    if (models[i].name == name) return i;
  throw InvalidArgument("no model named '" + name + "' is loaded");
}

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string models_json(const std::vector<LoadedModel>& models,
                        const std::vector<LoadedClassifier>& classifiers) {
  json out = {{"models", json::array()}, {"classifiers", json::array()}};
  for (const LoadedModel& m : models) {
    const io::ModelConfig& c = m.extractor->encoder().config();
    json poolings = {"cls", "mean"};
    if (m.extractor->encoder().has_pooler()) poolings.push_back("pooler");
    out["models"].push_back({{"name", m.name},
                             {"layers", c.layers},
                             {"heads", c.heads},
                             {"hidden", c.hidden},
                             {"pooling", io::pooling_name(c.pooling)},
                             {"poolings", poolings}});
  }
  for (const LoadedClassifier& c : classifiers) {
    const LoadedModel& m = models[c.model];
    out["classifiers"].push_back(
        {{"name", c.name},
         {"model", m.name},
         {"fine_tuned", c.fine_tuned},
         {"labels", c.fine_tuned ? m.fine_tuned->labels() : learn::class_names(c.saved)},
         {"pooling", c.fine_tuned
                         ? std::string(io::pooling_name(m.extractor->encoder().config().pooling))
                         : c.saved.encoder.pooling}});
  }
  return out.dump();
}

std::string explain_json(const std::vector<LoadedModel>& models,
                         const std::vector<LoadedClassifier>& classifiers,
                         const std::string& request_body) {
  json request;
  try {
    request = json::parse(request_body);
  } catch (const json::exception&) {
    throw ParseError("the request is not valid JSON");
  }
  if (!request.is_object() || !request.contains("text") || !request["text"].is_string()) {
    throw InvalidArgument("the request needs \"text\", a string");
  }
  const LoadedClassifier* classifier = nullptr;
  std::size_t model_index = 0;
  if (request.contains("classifier") && request["classifier"].is_string() &&
      !request["classifier"].get<std::string>().empty()) {
    const std::string name = request["classifier"];
    for (const LoadedClassifier& c : classifiers)
      if (c.name == name) classifier = &c;
    if (classifier == nullptr) throw InvalidArgument("no classifier named '" + name + "'");
    model_index = classifier->model;
  } else if (request.contains("model") && request["model"].is_string()) {
    model_index = find_model(models, request["model"]);
  }
  if (models.empty()) throw InvalidArgument("no model is loaded");
  std::optional<io::Pooling> pooling;
  if (request.contains("pooling") && request["pooling"].is_string() &&
      !request["pooling"].get<std::string>().empty()) {
    pooling = io::parse_pooling(request["pooling"].get<std::string>());
  }

  const LoadedModel& model = models[model_index];
  Explanation e;
  if (classifier != nullptr && classifier->fine_tuned) {
    const std::lock_guard<std::mutex> lock(*model.running);
    e = explain(*model.extractor, request["text"], pooling, nullptr, model.fine_tuned.get());
  } else {
    e = explain(*model.extractor, request["text"], pooling,
                classifier ? &classifier->saved : nullptr);
  }
  json attentions = json::array();
  const auto T = static_cast<std::int64_t>(e.encoding.size());
  for (const std::vector<float>& layer : e.attentions) {
    json heads = json::array();
    for (std::int64_t h = 0; h < e.heads; ++h) {
      json rows = json::array();
      for (std::int64_t i = 0; i < T; ++i) {
        json row = json::array();
        for (std::int64_t j = 0; j < T; ++j) row.push_back(rounded(layer[(h * T + i) * T + j]));
        rows.push_back(row);
      }
      heads.push_back(rows);
    }
    attentions.push_back(heads);
  }
  json offsets = json::array();
  for (const Offset& o : e.encoding.offsets) offsets.push_back({o.begin, o.end});
  json features = json::array();
  for (float v : e.features) features.push_back(rounded(v));
  json out = {{"model", models[model_index].name},
              {"tokens", e.tokens},
              {"ids", e.encoding.ids},
              {"type_ids", e.encoding.type_ids},
              {"attention_mask", e.encoding.attention_mask},
              {"special_tokens_mask", e.encoding.special_tokens_mask},
              {"offsets", offsets},
              {"truncated", e.encoding.truncated},
              {"pooling", io::pooling_name(e.pooling)},
              {"normalize", e.normalize},
              {"features", features},
              {"attentions", attentions}};
  if (classifier != nullptr) {
    json probabilities = json::object();
    for (std::size_t c = 0; c < e.labels.size(); ++c)
      probabilities[e.labels[c]] = e.probabilities[c];
    out["classifier"] = classifier->name;
    out["label"] = e.labels[e.predicted];
    out["probability"] = e.probabilities[e.predicted];
    out["probabilities"] = probabilities;
    out["importance"] = e.importance;
  }
  return out.dump();
}

void serve_ui(const std::vector<LoadedModel>& models,
              const std::vector<LoadedClassifier>& classifiers, const UiOptions& options,
              const std::function<void(int port)>& on_listening) {
  httplib::Server server;
  // The page draws everything itself: nothing may be fetched from anywhere but this server.
  const httplib::Headers security = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "connect-src 'self'; img-src data:"},
      {"X-Content-Type-Options", "nosniff"}};
  const auto error = [](httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"error", message}}.dump(), "application/json");
  };
  server.set_payload_max_length(1 << 20);
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.headers = security;
    res.set_content(page_html(), "text/html; charset=utf-8");
  });
  server.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(models_json(models, classifiers), "application/json");
  });
  server.Post("/api/explain", [&](const httplib::Request& req, httplib::Response& res) {
    try {
      res.set_content(explain_json(models, classifiers, req.body), "application/json");
    } catch (const Error& e) {
      error(res, 422, e.what());
    }
  });

  // SIGINT and SIGTERM stop the server from a thread of its own (httplib's stop() is not
  // async-signal-safe); block_stop_signals() kept every other thread from taking them.
  const sigset_t stop_signals = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread watcher([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
  });

  int port = options.port;
  bool bound = false;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    bound = port > 0;
  } else {
    bound = server.bind_to_port(options.host, port);
  }
  if (!bound) {
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    throw IoError("cannot listen on " + options.host + ":" + std::to_string(options.port));
  }
  on_listening(port);
  server.listen_after_bind();
  if (watcher.joinable()) {
    pthread_kill(watcher.native_handle(), SIGTERM);  // a no-op if a signal already ended it
    watcher.join();
  }
}

}  // namespace bertlite::ui
