// ui/explain.h - everything the interactive page shows for one sentence, from the library's own
// calls: the tokens and ids with their masks, the attention of every layer and head, the
// pooled feature vector, and with a classifier its probabilities and how much each token moves
// them (leave one token out).
#pragma once

#include <bertlite/tokenizer.h>

#include <optional>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "learn/classifier_file.h"
#include "model/features.h"
#include "train/sequence_classifier.h"

namespace bertlite::ui {

struct Explanation {
  Encoding encoding;
  std::vector<std::string> tokens;             // the pieces, "##" marking continuations
  std::vector<std::vector<float>> attentions;  // per layer [heads, T, T]
  std::int64_t heads = 0;
  io::Pooling pooling = io::Pooling::kMean;
  bool normalize = false;
  std::vector<float> features;  // [hidden]
  // With a classifier:
  std::vector<std::string> labels;
  std::vector<double> probabilities;  // one per label
  std::size_t predicted = 0;
  // For each token, the predicted label's probability with the sentence minus that token
  // subtracted from the full sentence's: positive when the token pushes towards the label.
  // 0 for special tokens, which are never removed.
  std::vector<double> importance;
};

// `classifier` (optional) decides pooling, normalization and max length as it was trained;
// otherwise `pooling` (unset: the model's) and the model's normalization. With `fine_tuned` (a
// fine-tuned folder's model, loaded from the extractor's folder) the probabilities are its
// own; it is run, so it is not const (one caller at a time). Throws InvalidArgument for an
// empty sentence or a classifier that does not fit the model.
Explanation explain(const model::FeatureExtractor& extractor, const std::string& text,
                    std::optional<io::Pooling> pooling, const learn::SavedClassifier* classifier,
                    train::SequenceClassifier* fine_tuned = nullptr);

}  // namespace bertlite::ui
