// tests/train/sequence_classifier_test.cpp - whole-model parity of the trainer with PyTorch:
// loss, logits and every parameter's gradient of a sequence classifier, 20 AdamW steps with
// transformers' warmup schedule and gradient clipping, and save/load round trips.
//
// The goldens (tests/data/finetune, written by tools/make_finetune_goldens.py) are three tiny
// random-weight classifiers that transformers saved - BERT with the erf GELU, BERT with the tanh
// GELU and old LayerNorm.gamma/beta names, DistilBERT - with what PyTorch (float32, eager
// attention, dropout 0) computes on fixed batches of varied-length sequences. bertlite runs the
// same sequences packed, without padding.
//
// Tolerances (float32 against float32): loss 1e-5 relative, logits 1e-4 absolute, a gradient
// 1e-4 of the golden tensor's L2 norm; over 20 AdamW steps losses 1e-4 (relative once above 1),
// pre-clip gradient norms 1e-4 relative, final weights 1e-4 of the tensor's norm. The goldens'
// own float32-vs-float64 error is ~1e-6 for gradients and ~3e-7 for the AdamW losses
// (golden.json), so the tolerances leave room for summation order only.
//
// The attention key biases are the exception: softmax ignores a shift of a query's scores, so
// their exact gradient is 0 (golden.json's zero_grad) and both sides hold rounding noise there.
// Their gradient must be noise-sized (1e-6 of the whole gradient's norm); AdamW turns noise into
// full-size steps in random directions, so their final values are not comparable and are only
// checked to stay within the largest distance AdamW could move them.
#include "train/sequence_classifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "test_support.h"
#include "train/optimizer.h"
#include "util/file.h"

namespace bertlite::train {
namespace {

using json = nlohmann::json;

const std::string kGoldens = BERTLITE_TEST_DATA "/finetune/";

constexpr double kLossTolerance = 1e-5;         // relative
constexpr double kLogitTolerance = 1e-4;        // absolute
constexpr double kGradTolerance = 1e-4;         // of the golden tensor's L2 norm
constexpr double kZeroGradTolerance = 1e-6;     // of the whole gradient's L2 norm
constexpr double kStepLossTolerance = 1e-4;     // absolute, relative above 1
constexpr double kGradNormTolerance = 1e-4;     // relative
constexpr double kFinalWeightTolerance = 1e-4;  // of the golden tensor's L2 norm

struct Golden {
  std::string folder;
  json doc;
  io::TensorFile tensors;
};

Golden load_golden(const std::string& name) {
  Golden g;
  g.folder = kGoldens + name;
  g.doc = json::parse(util::read_file(g.folder + "/golden.json"));
  g.tensors = io::open_safetensors(g.folder + "/golden.safetensors");
  return g;
}

model::PackedBatch packed(const json& batch) {
  model::PackedBatch out;
  const auto ids = batch.at("input_ids").get<std::vector<std::vector<std::int32_t>>>();
  std::vector<std::vector<std::int32_t>> types(ids.size());
  if (batch.contains("token_type_ids")) {
    types = batch.at("token_type_ids").get<std::vector<std::vector<std::int32_t>>>();
  }
  for (std::size_t b = 0; b < ids.size(); ++b) out.add(ids[b], types[b]);
  return out;
}

std::vector<std::int32_t> labels_of(const json& batch) {
  return batch.at("labels").get<std::vector<std::int32_t>>();
}

std::set<std::string> name_set(const json& names) {
  const auto list = names.get<std::vector<std::string>>();
  return {list.begin(), list.end()};
}

double norm(const float* x, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s);
}

double norm(std::span<const float> x) {
  return norm(x.data(), static_cast<std::int64_t>(x.size()));
}

double distance(const float* a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return std::sqrt(s);
}

// The golden tensor `key` for a named tensor, checked for shape.
std::span<const float> golden_tensor(const Golden& g, const std::string& key,
                                     const SequenceClassifier::NamedTensor& t) {
  EXPECT_TRUE(g.tensors.contains(key)) << key;
  if (!g.tensors.contains(key)) return {};
  const io::FloatTensor want = g.tensors.floats(key);
  EXPECT_EQ(std::vector<std::int64_t>(want.shape.begin(), want.shape.end()), t.shape) << key;
  EXPECT_EQ(static_cast<std::int64_t>(want.data.size()), t.size) << key;
  if (static_cast<std::int64_t>(want.data.size()) != t.size) return {};
  return want.data;
}

class SequenceClassifierParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SequenceClassifierParity, LossLogitsAndEveryGradientMatchPyTorch) {
  const Golden g = load_golden(GetParam());
  SequenceClassifier model = SequenceClassifier::load(g.folder);
  EXPECT_EQ(model.num_labels(), static_cast<std::int64_t>(g.doc.at("logits").at(0).size()));
  EXPECT_EQ(model.hidden_dropout(), 0.0f);
  EXPECT_EQ(model.attention_dropout(), 0.0f);
  EXPECT_EQ(model.classifier_dropout(), 0.0f);
  const json& batch = g.doc.at("batch");
  const std::vector<float> logits = model.forward(packed(batch), {.training = true});
  const double loss = model.loss_and_backward(labels_of(batch), {});

  const double want_loss = g.doc.at("loss").get<double>();
  EXPECT_LE(std::abs(loss - want_loss), kLossTolerance * std::abs(want_loss))
      << "loss " << loss << ", PyTorch " << want_loss;
  const auto want_logits = g.doc.at("logits").get<std::vector<std::vector<double>>>();
  const std::int64_t K = model.num_labels();
  ASSERT_EQ(logits.size(), want_logits.size() * static_cast<std::size_t>(K));
  double worst_logit = 0;
  for (std::size_t b = 0; b < want_logits.size(); ++b) {
    for (std::int64_t k = 0; k < K; ++k) {
      worst_logit = std::max(worst_logit, std::abs(logits[b * K + k] - want_logits[b][k]));
    }
  }
  EXPECT_LE(worst_logit, kLogitTolerance);

  // Names: exactly the checkpoint's, legacy LayerNorm spellings included.
  const std::vector<SequenceClassifier::NamedTensor> named = model.named_tensors();
  std::set<std::string> ours;
  for (const auto& t : named) ours.insert(t.name);
  EXPECT_EQ(ours.size(), named.size()) << "duplicate names";
  const std::set<std::string> file_names = name_set(g.doc.at("file_names"));
  for (const std::string& name : file_names) EXPECT_TRUE(ours.contains(name)) << name;
  for (const std::string& name : ours) EXPECT_TRUE(file_names.contains(name)) << name;

  const std::set<std::string> zero_grad = name_set(g.doc.at("zero_grad"));
  double total = 0;
  for (const auto& t : named) {
    const double n = norm(golden_tensor(g, "grad." + t.name, t));
    total += n * n;
  }
  total = std::sqrt(total);
  double worst = 0, worst_zero = 0;
  std::string worst_name;
  for (const auto& t : named) {
    const std::span<const float> want = golden_tensor(g, "grad." + t.name, t);
    if (want.empty()) continue;
    if (zero_grad.contains(t.name)) {
      worst_zero = std::max(worst_zero, norm(t.grad, t.size) / total);
      continue;
    }
    const double error = distance(t.grad, want) / norm(want);
    EXPECT_LE(error, kGradTolerance) << t.name;
    if (error > worst) worst = error, worst_name = t.name;
  }
  EXPECT_LE(worst_zero, kZeroGradTolerance) << "gradient of a parameter the loss ignores";
  std::printf(
      "[ %s ] loss error %.2e (relative), logits %.2e, worst gradient %.2e (%s), "
      "zero-gradient parameters %.1e of the gradient norm\n",
      GetParam().c_str(), std::abs(loss - want_loss) / std::abs(want_loss), worst_logit, worst,
      worst_name.c_str(), worst_zero);
}

TEST_P(SequenceClassifierParity, WeightDecayFlagsAreTransformersTrainers) {
  const Golden g = load_golden(GetParam());
  const SequenceClassifier model = SequenceClassifier::load(g.folder);
  const std::set<std::string> no_decay = name_set(g.doc.at("no_decay"));
  std::size_t seen = 0;
  for (const Parameter& p : model.parameters()) {
    for (const Parameter::Part& part : p.parts) {
      EXPECT_EQ(p.decay, !no_decay.contains(part.name)) << part.name;
      seen += no_decay.contains(part.name);
    }
  }
  EXPECT_EQ(seen, no_decay.size());
}

TEST_P(SequenceClassifierParity, TwentyAdamWStepsMatchPyTorch) {
  const Golden g = load_golden(GetParam());
  const json& run = g.doc.at("adamw");
  SequenceClassifier model = SequenceClassifier::load(g.folder);
  const auto betas = run.at("betas").get<std::vector<float>>();
  AdamW optimizer(model.parameters(), {.beta1 = betas.at(0),
                                       .beta2 = betas.at(1),
                                       .eps = run.at("eps").get<float>(),
                                       .weight_decay = run.at("weight_decay").get<float>()});
  const auto base_lr = run.at("lr").get<double>();
  const auto warmup = run.at("warmup_steps").get<std::int64_t>();
  const auto total = run.at("total_steps").get<std::int64_t>();
  const auto max_norm = run.at("max_grad_norm").get<double>();
  const auto losses = run.at("losses").get<std::vector<double>>();
  const auto lrs = run.at("lrs").get<std::vector<double>>();
  const auto grad_norms = run.at("grad_norms").get<std::vector<double>>();
  ASSERT_EQ(static_cast<std::int64_t>(losses.size()), total);
  std::vector<model::PackedBatch> batches;
  std::vector<std::vector<std::int32_t>> labels;
  for (const json& batch : run.at("batches")) {
    batches.push_back(packed(batch));
    labels.push_back(labels_of(batch));
  }

  double worst_loss = 0, worst_norm = 0, lr_sum = 0;
  for (std::int64_t step = 0; step < total; ++step) {
    const auto lr = static_cast<float>(base_lr * linear_schedule_factor(step, warmup, total));
    EXPECT_NEAR(lr, lrs[step], 1e-7 * base_lr) << "step " << step;
    lr_sum += lr;
    const std::size_t b = static_cast<std::size_t>(step) % batches.size();
    model.zero_grad();
    model.forward(batches[b], {.training = true});
    const double loss = model.loss_and_backward(labels[b], {});
    const double grad_norm = clip_grad_norm(model.parameters(), max_norm);
    optimizer.step(lr);
    const double loss_error = std::abs(loss - losses[step]) / std::max(1.0, std::abs(losses[step]));
    const double norm_error = std::abs(grad_norm - grad_norms[step]) / grad_norms[step];
    EXPECT_LE(loss_error, kStepLossTolerance) << "step " << step;
    EXPECT_LE(norm_error, kGradNormTolerance) << "step " << step;
    worst_loss = std::max(worst_loss, loss_error);
    worst_norm = std::max(worst_norm, norm_error);
  }

  const std::set<std::string> zero_grad = name_set(g.doc.at("zero_grad"));
  const io::TensorFile initial = io::open_checkpoint(g.folder);
  double worst = 0;
  std::string worst_name;
  for (const auto& t : model.named_tensors()) {
    const std::span<const float> want = golden_tensor(g, "final." + t.name, t);
    if (want.empty()) continue;
    if (zero_grad.contains(t.name)) {
      // Noise-driven, and biases are not decayed: Adam's step is at most
      // lr (1 - beta1) / sqrt(1 - beta2) per element (Kingma & Ba, section 2.1).
      const double max_step = (1.0 - betas[0]) / std::sqrt(1.0 - betas[1]);
      const io::FloatTensor start = initial.floats(t.name);
      for (std::int64_t i = 0; i < t.size; ++i) {
        EXPECT_LE(std::abs(t.value[i] - start.data[i]), max_step * lr_sum * (1 + 1e-3))
            << t.name << "[" << i << "]";
      }
      continue;
    }
    const double error = distance(t.value, want) / norm(want);
    EXPECT_LE(error, kFinalWeightTolerance) << t.name;
    if (error > worst) worst = error, worst_name = t.name;
  }
  std::printf(
      "[ %s ] %lld AdamW steps: worst loss difference %.2e, gradient norm %.2e "
      "(relative), final weights %.2e (%s)\n",
      GetParam().c_str(), static_cast<long long>(total), worst_loss, worst_norm, worst,
      worst_name.c_str());
}

TEST_P(SequenceClassifierParity, SavedFolderReloadsToTheSameModel) {
  const Golden g = load_golden(GetParam());
  SequenceClassifier model = SequenceClassifier::load(g.folder);
  const model::PackedBatch batch = packed(g.doc.at("batch"));
  const std::vector<float> before = model.forward(batch, {});
  const test::TempDir dir;
  const auto out = dir / "saved";
  model.save(out);

  SequenceClassifier reloaded = SequenceClassifier::load(out);
  EXPECT_EQ(reloaded.labels(), model.labels());
  const std::vector<float> after = reloaded.forward(batch, {});
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]) << i;

  const json config = json::parse(util::read_file(out / "config.json"));
  const std::string architecture = config.at("model_type") == "bert"
                                       ? "BertForSequenceClassification"
                                       : "DistilBertForSequenceClassification";
  EXPECT_EQ(config.at("architectures"), json::array({architecture}));
  EXPECT_EQ(config.at("num_labels").get<std::int64_t>(), model.num_labels());
  for (std::size_t i = 0; i < model.labels().size(); ++i) {
    EXPECT_EQ(config.at("id2label").at(std::to_string(i)), model.labels()[i]);
    EXPECT_EQ(config.at("label2id").at(model.labels()[i]).get<std::size_t>(), i);
  }
  // The saved file holds the source's tensor names (legacy gamma/beta kept) and values.
  const io::TensorFile saved = io::open_checkpoint(out);
  const io::TensorFile source = io::open_checkpoint(g.folder);
  std::set<std::string> saved_names;
  for (const io::TensorInfo& info : saved.tensors()) saved_names.insert(info.name);
  EXPECT_EQ(saved_names, name_set(g.doc.at("file_names")));
  for (const std::string& name : saved_names) {
    if (!source.contains(name)) continue;
    const io::FloatTensor a = saved.floats(name), b = source.floats(name);
    ASSERT_EQ(a.data.size(), b.data.size()) << name;
    EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), b.data.begin())) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(SequenceClassifier, SequenceClassifierParity,
                         ::testing::Values("bert_cls", "bert_cls_legacy", "distilbert_cls"));

}  // namespace
}  // namespace bertlite::train
