// cli/serve_command.cpp - `bertlite serve`: the encoder, its tokenizer and a classifier over
// HTTP (server/: text-embeddings-inference's and OpenAI's APIs), until SIGTERM or SIGINT.
//
// Start-up order: bind the port first (so a port in use fails at once, and /health answers 503
// while the model loads), then load, then serve. Shutdown: stop accepting, answer every
// request already taken, exit 0.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include "commands.h"
#include "io/model_config.h"
#include "io/model_path.h"
#include "long_text_options.h"
#include "precision_notice.h"
#include "server/http_server.h"
#include "util/threads.h"

namespace bertlite::cli {
namespace {

struct ServeOptions {
  server::ServiceOptions service;
  server::HttpOptions http;
  std::string pooling;
  std::string precision;
  int threads = 0;
  LongTextOptions long_text;
};

// Blocks SIGTERM and SIGINT in this thread and every thread started after it, so that only
// the watcher below sees them (sigtimedwait), never a connection or compute thread.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void run(ServeOptions options) {
  const sigset_t signals = block_shutdown_signals();
  util::set_compute_threads(options.threads);
  if (!options.pooling.empty()) options.service.pooling = io::parse_pooling(options.pooling);
  if (!options.precision.empty()) {
    options.service.precision = kernels::parse_precision(options.precision);
  }
  model::FeatureOptions long_text;  // only to read the shared options the way other commands do
  apply_long_text_options(options.long_text, long_text);
  options.service.long_text = long_text.long_text;
  options.service.stride = long_text.stride;
  options.service.window_pooling = long_text.window_pooling;
  // One connection thread per request the queue may hold, and a few for /health and /metrics.
  options.http.http_threads = static_cast<int>(options.service.max_concurrent_requests) + 8;

  server::HttpServer http(options.http);
  const int port = http.bind();
  std::printf("bertlite serve: listening on http://%s:%d (loading the model)\n",
              options.http.host.c_str(), port);
  std::fflush(stdout);

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    const timespec poll{0, 200'000'000};
    while (!finished) {
      const int signal = sigtimedwait(&signals, nullptr, &poll);
      if (signal > 0) {
        std::printf("bertlite serve: %s received, finishing in-flight requests\n",
                    signal == SIGTERM ? "SIGTERM" : "SIGINT");
        std::fflush(stdout);
        http.shutdown();
        return;
      }
    }
  });
  std::thread listener([&] { http.listen(); });
  const auto stop_threads = [&] {
    listener.join();
    finished = true;
    watcher.join();
  };

  std::shared_ptr<server::Service> service;
  try {
    options.service.on_batch = [&http](const server::BatchRecord& b) {
      http.metrics().observe_batch(b);
    };
    service = server::Service::load(options.service);
  } catch (...) {
    http.shutdown();
    stop_threads();
    throw;
  }
  http.set_service(service);
  const server::ModelInfo& info = service->info();
  print_precision_notice(kernels::parse_precision(info.precision));
  std::printf("bertlite serve: ready: %s (%s pooling, %s%s%s), max input %zu tokens (%s)\n",
              info.model_id.c_str(), info.pooling.c_str(), info.precision.c_str(),
              info.classifier_kind.empty() ? "" : ", /predict: ", info.classifier_kind.c_str(),
              info.max_input_length, info.long_text.c_str());
  std::fflush(stdout);

  stop_threads();  // returns after shutdown, once in-flight requests are answered
  http.set_service(nullptr);
  service->stop();
  std::printf("bertlite serve: stopped\n");
  std::fflush(stdout);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  server::ServiceOptions& s = options->service;
  server::HttpOptions& h = options->http;
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a model over HTTP until SIGTERM: text-embeddings-inference's POST /embed,\n"
      "/predict, /tokenize, GET /info, /health, /metrics, and OpenAI's POST /v1/embeddings\n"
      "(GET /openapi.json describes them). /predict serves --classifier FILE (bertlite train)\n"
      "or a fine-tuned --model DIR (bertlite finetune). Requests are packed into batches of\n"
      "at most --max-batch-tokens tokens; a sentence's result does not depend on its batch.\n"
      "An input over --max-input-length follows the request's \"truncate\" (else\n"
      "--auto-truncate: cut, or 422) under --long-text truncate; always gets 422 under error;\n"
      "under window is read whole in windows (embeddings pooled, /predict scores averaged) and\n"
      "\"truncate\" is ignored.");
  cmd->add_option("-m,--model", s.model,
                  "Model folder or name (default: the classifier's model, else " +
                      std::string(io::kDefaultModel) + ")");
  cmd->add_option("-c,--classifier", s.classifier,
                  "Classifier file from `bertlite train` for /predict");
  cmd->add_option("--host", h.host, "Address to listen on")->capture_default_str();
  cmd->add_option("-p,--port", h.port, "Port (0: any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", h.api_key,
                  "Require \"Authorization: Bearer KEY\" on every route but /health")
      ->envname("BERTLITE_API_KEY");
  cmd->add_option("--max-batch-tokens", s.max_batch_tokens,
                  "Real tokens per forward pass (no padding is ever added)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-requests", s.max_batch_requests,
                  "Sequences per forward pass (0: only the token budget limits)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-concurrent-requests", s.max_concurrent_requests,
                  "Requests queued or running at once; more get 429 with Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-client-batch-size", s.max_client_batch_size,
                  "Inputs in one request; more get 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-input-length", s.max_input_length,
                  "Longest input in tokens, special tokens included (default: the model's)");
  cmd->add_flag("--auto-truncate", s.auto_truncate,
                "Cut inputs over --max-input-length when a request does not say \"truncate\" "
                "(otherwise they get 422); only with --long-text truncate");
  cmd->add_option("--payload-limit", h.payload_limit, "Largest request body in bytes (413 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--pooling", options->pooling, "Embeddings' pooling (default: the model's)")
      ->check(CLI::IsMember({"cls", "mean", "pooler"}));
  cmd->add_option("--precision", options->precision,
                  "GEMM number format (as `bertlite embed`; default: the model's own)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  cmd->add_option("-t,--threads", options->threads, "Compute threads (0 = all available cores)")
      ->capture_default_str();
  add_long_text_options(*cmd, options->long_text);
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
