// ui/ui_server.h - `bertlite ui`: one page, served on loopback, where a person types a sentence
// and sees each step of the walkthrough for it (ui/page/index.html, embedded at build time; no
// CDN, no network), and the JSON routes the page calls:
//   GET  /             the page
//   GET  /api/models   the loaded models and classifiers
//   POST /api/explain  {"text", "model", "classifier", "pooling"} -> ui::explain's result
// Requests name models and classifiers by the names they were loaded under, never by path.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "learn/classifier_file.h"
#include "model/features.h"
#include "train/sequence_classifier.h"

namespace bertlite::ui {

struct LoadedModel {
  std::string name;  // as given on the command line
  std::unique_ptr<model::FeatureExtractor> extractor;
  // A fine-tuned folder's own classifier (bertlite finetune, or transformers'
  // *ForSequenceClassification), run one request at a time under `running`.
  std::unique_ptr<train::SequenceClassifier> fine_tuned;
  std::unique_ptr<std::mutex> running = std::make_unique<std::mutex>();
};

struct LoadedClassifier {
  std::string name;  // the file's name, without its folder; a fine-tuned model's own name
  learn::SavedClassifier saved;  // unused when fine_tuned
  std::size_t model = 0;         // index into the models
  bool fine_tuned = false;       // the model's own head classifies
};

struct UiOptions {
  std::string host = "127.0.0.1";
  int port = 8088;  // 0: any free port
};

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts from then on, so
// that serve_ui's watcher receives them. Call it first, before loading models: oneDNN's and
// OpenMP's worker threads inherit the mask when they are created.
void block_stop_signals();

// Serves until SIGINT or SIGTERM (block_stop_signals() must have run). Calls `on_listening(port)`
// once the socket is bound. Throws IoError if the address cannot be bound.
void serve_ui(const std::vector<LoadedModel>& models,
              const std::vector<LoadedClassifier>& classifiers, const UiOptions& options,
              const std::function<void(int port)>& on_listening);

// The JSON of /api/explain and /api/models, for tests without a socket.
std::string explain_json(const std::vector<LoadedModel>& models,
                         const std::vector<LoadedClassifier>& classifiers,
                         const std::string& request_body);
std::string models_json(const std::vector<LoadedModel>& models,
                        const std::vector<LoadedClassifier>& classifiers);

// The page, as embedded.
const std::string& page_html();

}  // namespace bertlite::ui
