// train/sequence_classifier.h - a BERT or DistilBERT encoder with a classification head whose
// every parameter can be trained: forward passes that keep what the backward needs, the
// backward pass, and Hugging Face folders in and out.
//
// Shapes (this file): B sequences, T real tokens in all (packed, as model::PackedBatch: no
// padding in training either), H hidden, I FFN width, K classes, P attention probabilities.
//
// The computation is transformers' BertForSequenceClassification /
// DistilBertForSequenceClassification with the encoder of model/encoder.h, dropout included:
//   embeddings = dropout(LayerNorm(word + position (+ token type)))
//   per layer: a = LayerNorm(dropout_h(attention(x) Wo^T + bo) + x)        (BERT drops here,
//              x = LayerNorm(dropout(gelu(a W1^T + b1) W2^T + b2) + a)      DistilBERT does not)
//              attention's probabilities are dropped too
//   head, by kind:
//     kBertPooler   logits = classifier(dropout(tanh(pooler(h[CLS]))))
//     kDistilBert   logits = classifier(dropout(relu(pre_classifier(h[CLS]))))
//     kMeanLinear   logits = classifier(dropout(mean over the sequence of h))   bertlite's own
//                   head for sentence-transformers models, which were trained on the mean;
//                   save() writes it with a small transformers module (modeling_bertlite.py,
//                   named in config.json's auto_map), so transformers loads it with
//                   trust_remote_code=True.
//
// Parameters keep transformers' names and shapes (a checkpoint's legacy LayerNorm gamma/beta
// spelling is kept too, so a file saved back has the names it was read with), except that query,
// key and value live in one [3H, H] tensor (one GEMM instead of three); its parts keep their names,
// so gradients, saved files and optimizer state are per Hugging Face tensor wherever they leave
// this class.
//
// Example:
//   auto model = SequenceClassifier::load(folder, {.labels = {"negative", "positive"}});
//   model.forward(batch, {.training = true, .dropout_seed = step});
//   double loss = model.loss_and_backward(labels, {});   // gradients accumulate
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "model/encoder.h"

namespace bertlite::train {

enum class HeadKind { kBertPooler, kDistilBert, kMeanLinear };
const char* head_kind_name(HeadKind kind);  // "pooler", "distilbert", "mean"
// "pooler", "distilbert", "mean" -> HeadKind; throws InvalidArgument listing them.
HeadKind parse_head_kind(const std::string& name);

// One trainable tensor. A tensor may be the concatenation (along dimension 0) of several
// Hugging Face tensors, its parts.
struct Parameter {
  struct Part {
    std::string
        name;  // as transformers names it, e.g. "bert.encoder.layer.0.attention.self.query.weight"
    std::int64_t offset = 0;  // first element within value
    std::vector<std::int64_t> shape;
  };
  std::vector<std::int64_t> shape;
  std::vector<float> value;
  std::vector<float> grad;  // same size as value; accumulates until zero_grad
  std::vector<Part> parts;
  // AdamW decays it: everything but biases and LayerNorm weights, as transformers' Trainer.
  bool decay = true;

  std::int64_t size() const { return static_cast<std::int64_t>(value.size()); }
};

struct ClassifierOptions {
  // Class names, index = label. Empty: the folder's id2label (a fine-tuned folder), else an
  // InvalidArgument. Given for a folder that has a head with another class count: an error.
  std::vector<std::string> labels;
  // Unset: the folder's head if it has one, else kMeanLinear for a sentence-transformers model
  // that pools by the mean (what it was trained for), kBertPooler for BERT and kDistilBert for
  // DistilBERT.
  std::optional<HeadKind> head;
  // Seed for the weights of a new head (normal(0, initializer_range), biases 0, as transformers).
  std::uint64_t init_seed = 0;
  // Dropout overrides; unset: config.json's (hidden_dropout_prob / dropout, attention dropout,
  // classifier_dropout / seq_classif_dropout).
  std::optional<float> hidden_dropout, attention_dropout, classifier_dropout;
};

struct ForwardMode {
  bool training = false;           // dropout on (and activations kept for backward)
  std::uint64_t dropout_seed = 0;  // masks are a function of this seed alone
};

struct LossOptions {
  std::vector<float> class_weights;  // [K] or empty
  float label_smoothing = 0;
  // The loss (and so every gradient) is multiplied by this: 1 / micro-batches when
  // accumulating, as transformers' Trainer divides by gradient_accumulation_steps.
  float scale = 1;
};

class SequenceClassifier {
 public:
  // Reads config.json and the weights of an encoder folder (any checkpoint model::Encoder
  // loads), and the head when the file holds one (classifier.weight, pre_classifier / pooler).
  // Throws bertlite::Error naming the file and tensor for anything missing or mis-shaped.
  static SequenceClassifier load(const std::filesystem::path& folder,
                                 const ClassifierOptions& options = {});

  SequenceClassifier(SequenceClassifier&&) noexcept;
  SequenceClassifier& operator=(SequenceClassifier&&) noexcept;
  ~SequenceClassifier();

  const io::ModelConfig& config() const;
  HeadKind head() const;
  const std::vector<std::string>& labels() const;
  std::int64_t num_labels() const { return static_cast<std::int64_t>(labels().size()); }
  float hidden_dropout() const;
  float attention_dropout() const;
  float classifier_dropout() const;

  std::vector<Parameter>& parameters();
  const std::vector<Parameter>& parameters() const;
  std::int64_t parameter_count() const;
  void zero_grad();

  // logits[B, K] for the batch. In training mode it keeps the activations that
  // loss_and_backward / backward read; they stay valid until the next forward.
  const std::vector<float>& forward(const model::PackedBatch& batch, const ForwardMode& mode);
  // Cross-entropy of the last forward's logits against labels[B] (mean over the batch, torch's
  // CrossEntropyLoss), then backward: every parameter's grad += d(scale * loss)/d(parameter).
  // Returns the unscaled loss. Throws InvalidArgument for a label outside [0, K).
  double loss_and_backward(const std::vector<std::int32_t>& labels, const LossOptions& options);
  // The backward pass from dlogits[B, K] of the last training forward.
  void backward(const std::vector<float>& dlogits);

  // Floats of activations the last forward kept (for the memory report).
  std::int64_t activation_floats() const;
  // Multiply-adds x 2 of the last forward (GEMMs and attention), for GFLOPS reports.
  double forward_flops() const;

  // Writes a Hugging Face folder (`out` must not exist; built beside it, renamed when complete):
  // config.json (the source's, with architectures, id2label, label2id, num_labels and the
  // dropouts used), model.safetensors with every parameter under transformers' names, and the
  // source folder's tokenizer and other non-weight files.
  void save(const std::filesystem::path& out) const;
  // The parameters as Hugging Face tensors: name -> [shape, values] views into this object.
  struct NamedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    const float* value = nullptr;
    const float* grad = nullptr;
    std::int64_t size = 0;
  };
  std::vector<NamedTensor> named_tensors() const;

 private:
  SequenceClassifier();
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace bertlite::train
