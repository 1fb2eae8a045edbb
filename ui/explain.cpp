// ui/explain.cpp - see explain.h.
#include "ui/explain.h"

#include <algorithm>

#include "bertlite/error.h"
#include "learn/matrix.h"
#include "train/finetune.h"

namespace bertlite::ui {

Explanation explain(const model::FeatureExtractor& extractor, const std::string& text,
                    std::optional<io::Pooling> pooling, const learn::SavedClassifier* classifier,
                    train::SequenceClassifier* fine_tuned) {
  if (text.empty()) throw InvalidArgument("the sentence is empty");
  const model::Encoder& encoder = extractor.encoder();
  model::FeatureOptions options;
  options.pooling = pooling;
  if (classifier != nullptr) {
    if (classifier->model.n_features() != encoder.config().hidden) {
      throw InvalidArgument(
          "the classifier expects " + std::to_string(classifier->model.n_features()) +
          " features, the model gives " + std::to_string(encoder.config().hidden));
    }
    options.pooling = io::parse_pooling(classifier->encoder.pooling);
    options.normalize = classifier->encoder.normalize;
    options.max_length = static_cast<std::size_t>(classifier->encoder.max_length);
  }
  options = extractor.resolve(options);

  Explanation out;
  EncodeOptions encode;
  encode.max_length = options.max_length;
  out.encoding = extractor.tokenizer().encode(text, encode);
  const Encoding& e = out.encoding;
  out.tokens = extractor.tokenizer().tokens(e.ids);
  out.attentions = encoder.attention_probabilities(e.ids, e.type_ids);
  out.heads = encoder.config().heads;
  out.pooling = *options.pooling;
  out.normalize = *options.normalize;

  // Row 0: the sentence; row 1 + k: the sentence without its k-th non-special token. One
  // packed forward pass for all of them.
  const bool scoring = classifier != nullptr || fine_tuned != nullptr;
  std::vector<train::Example> variants{{e.ids, e.type_ids, 0}};
  std::vector<std::size_t> removable;
  if (scoring) {
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (e.special_tokens_mask[i] != 0) continue;
      removable.push_back(i);
      train::Example without{e.ids, e.type_ids, 0};
      without.ids.erase(without.ids.begin() + static_cast<std::ptrdiff_t>(i));
      without.type_ids.erase(without.type_ids.begin() + static_cast<std::ptrdiff_t>(i));
      variants.push_back(std::move(without));
    }
  }
  // A classifier on features needs every variant encoded; the features shown are row 0.
  model::PackedBatch batch;
  for (std::size_t v = 0; v < (classifier != nullptr ? variants.size() : 1); ++v)
    batch.add(variants[v].ids, variants[v].type_ids);
  std::vector<float> hidden;
  encoder.forward(batch, hidden);
  const std::vector<float> pooled = encoder.pool(batch, hidden, out.pooling, out.normalize);
  const std::int64_t H = encoder.config().hidden;
  out.features.assign(pooled.begin(), pooled.begin() + H);
  if (!scoring) return out;

  std::vector<double> p;
  if (fine_tuned != nullptr) {
    out.labels = fine_tuned->labels();
    p = train::softmax_rows(train::predict_logits(*fine_tuned, variants), fine_tuned->num_labels());
  } else {
    out.labels = learn::class_names(*classifier);
    p = classifier->model.predict_proba(learn::MatrixView{pooled, batch.sequences(), H});
  }
  const std::size_t k = out.labels.size();
  out.probabilities.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(k));
  out.predicted = static_cast<std::size_t>(
      std::max_element(out.probabilities.begin(), out.probabilities.end()) -
      out.probabilities.begin());
  out.importance.assign(e.size(), 0.0);
  for (std::size_t r = 0; r < removable.size(); ++r) {
    out.importance[removable[r]] =
        out.probabilities[out.predicted] - p[(r + 1) * k + out.predicted];
  }
  return out;
}

}  // namespace bertlite::ui
