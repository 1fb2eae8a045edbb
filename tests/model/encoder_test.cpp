// The encoder against transformers: the committed fixtures (tools/make_encoder_fixtures.py)
// hold random-weight checkpoints that transformers wrote, and what transformers computed on a
// padded batch of varied-length inputs. bertlite runs the same inputs as one packed batch.
// Tolerance: max abs difference <= 1e-5 (float32 against float32; the fixtures' own
// float32-vs-float64 difference is 1.6e-6).
#include "model/encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "io/safetensors.h"
#include "kernels/dispatch.h"
#include "util/file.h"

namespace bertlite::model {
namespace {

const std::string kFixtures = BERTLITE_TEST_DATA "/encoder/";
constexpr double kTolerance = 1e-5;

struct Fixture {
  PackedBatch batch;
  std::vector<std::int64_t> lengths;
  std::int64_t padded = 0;
  io::TensorFile expected;
};

Fixture load_fixture(const std::string& name) {
  Fixture f;
  const auto inputs = nlohmann::json::parse(util::read_file(kFixtures + name + "/inputs.json"));
  f.padded = inputs.at("padded_length").get<std::int64_t>();
  for (const auto& sentence : inputs.at("sentences")) {
    const auto ids = sentence.at("input_ids").get<std::vector<std::int32_t>>();
    std::vector<std::int32_t> types;
    if (sentence.contains("token_type_ids"))
      types = sentence.at("token_type_ids").get<std::vector<std::int32_t>>();
    f.batch.add(ids, types);
    f.lengths.push_back(static_cast<std::int64_t>(ids.size()));
  }
  f.expected = io::open_safetensors(kFixtures + name + "/expected.safetensors");
  return f;
}

// Max abs difference between packed rows [T, C] and the real rows of a padded [B, P, C] tensor.
double packed_vs_padded(const Fixture& f, const float* packed, std::int64_t C,
                        const io::FloatTensor& padded) {
  double worst = 0;
  std::int64_t row = 0;
  for (std::size_t b = 0; b < f.lengths.size(); ++b) {
    for (std::int64_t t = 0; t < f.lengths[b]; ++t, ++row) {
      for (std::int64_t c = 0; c < C; ++c) {
        const double want = padded.data[(b * f.padded + t) * C + c];
        worst = std::max(worst, std::abs(want - packed[row * C + c]));
      }
    }
  }
  return worst;
}

double max_abs(const std::vector<float>& got, const io::FloatTensor& want) {
  EXPECT_EQ(got.size(), want.data.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size() && i < want.data.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want.data[i]));
  }
  return worst;
}

class EncoderFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderFixture, MatchesTransformersLayerByLayer) {
  const Fixture f = load_fixture(GetParam());
  const Encoder encoder = Encoder::load(kFixtures + GetParam());
  const std::int64_t H = encoder.config().hidden;
  std::map<std::string, std::vector<float>> seen;
  std::vector<float> hidden;
  encoder.forward(f.batch, hidden,
                  [&](std::string_view name, int layer, const float* data, std::int64_t rows,
                      std::int64_t cols) {
                    const std::string key =
                        name == "embeddings" ? "hidden_states.0"
                        : name == "hidden"
                            ? "hidden_states." + std::to_string(layer + 1)
                            : "layer." + std::to_string(layer) + "." + std::string(name);
                    seen[key].assign(data, data + rows * cols);
                  });
  EXPECT_LE(packed_vs_padded(f, hidden.data(), H, f.expected.floats("last_hidden_state")),
            kTolerance);
  for (const auto& [key, values] : seen) {
    if (!f.expected.contains(key)) continue;  // derived fixtures store final outputs only
    const std::int64_t cols = static_cast<std::int64_t>(values.size()) / f.batch.tokens();
    EXPECT_LE(packed_vs_padded(f, values.data(), cols, f.expected.floats(key)), kTolerance) << key;
  }
  for (io::Pooling pooling : {io::Pooling::kCls, io::Pooling::kMean, io::Pooling::kPooler}) {
    const std::string name = std::string("pooled.") + io::pooling_name(pooling);
    if (!f.expected.contains(name)) continue;
    EXPECT_LE(max_abs(encoder.pool(f.batch, hidden, pooling, false), f.expected.floats(name)),
              kTolerance)
        << name;
    EXPECT_LE(max_abs(encoder.pool(f.batch, hidden, pooling, true),
                      f.expected.floats(name + "_normalized")),
              kTolerance)
        << name;
  }
}

TEST_P(EncoderFixture, SentenceOutputDoesNotDependOnItsBatch) {
  const Fixture f = load_fixture(GetParam());
  const Encoder encoder = Encoder::load(kFixtures + GetParam());
  const std::int64_t H = encoder.config().hidden;
  std::vector<float> together, alone, reference_together, reference_alone;
  encoder.forward(f.batch, together);
  kernels::set_reference_mode(true);
  encoder.forward(f.batch, reference_together);
  kernels::set_reference_mode(false);
  for (std::int64_t b = 0; b < f.batch.sequences(); ++b) {
    const std::int64_t begin = f.batch.starts[b], end = f.batch.starts[b + 1];
    PackedBatch single;
    single.add(std::span(f.batch.ids).subspan(begin, end - begin),
               std::span(f.batch.type_ids).subspan(begin, end - begin));
    encoder.forward(single, alone);
    double worst = 0, scale = 1;
    for (std::int64_t i = 0; i < (end - begin) * H; ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(alone[i]) - together[begin * H + i]));
      scale = std::max(scale, std::abs(static_cast<double>(together[begin * H + i])));
    }
    // oneDNN picks its blocking by the number of rows, so a row's float32 sums may round
    // differently in a batch of another size: a few ulp, measured up to 1.4e-6 here on values
    // up to `scale`. The reference path (checked below) is exactly batch-independent.
    EXPECT_LE(worst, 1e-6 * scale) << "sequence " << b << ", largest |value| " << scale;
    kernels::set_reference_mode(true);
    encoder.forward(single, reference_alone);
    kernels::set_reference_mode(false);
    for (std::int64_t i = 0; i < (end - begin) * H; ++i) {
      ASSERT_EQ(reference_alone[i], reference_together[begin * H + i]) << "sequence " << b;
    }
  }
}

TEST_P(EncoderFixture, FastKernelsMatchTheReferencePath) {
  const Fixture f = load_fixture(GetParam());
  const Encoder encoder = Encoder::load(kFixtures + GetParam());
  std::vector<float> fast, reference;
  encoder.forward(f.batch, fast);
  kernels::set_reference_mode(true);
  encoder.forward(f.batch, reference);
  kernels::set_reference_mode(false);
  double worst = 0;
  for (std::size_t i = 0; i < fast.size(); ++i)
    worst = std::max(worst, std::abs(double(fast[i]) - reference[i]));
  EXPECT_LE(worst, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EncoderFixture,
                         ::testing::Values("bert_tiny", "bert_tiny_prefixed",
                                           "bert_tiny_legacy_names", "bert_tiny_gelu_tanh",
                                           "distilbert_tiny", "distilbert_tiny_prefixed"));

TEST(Encoder, PrefixedAndLegacyNamesLoadTheSameWeights) {
  const Fixture f = load_fixture("bert_tiny");
  std::vector<float> base, other;
  Encoder::load(kFixtures + "bert_tiny").forward(f.batch, base);
  for (const char* name : {"bert_tiny_prefixed", "bert_tiny_legacy_names"}) {
    Encoder::load(kFixtures + name).forward(f.batch, other);
    EXPECT_EQ(base, other) << name;
  }
}

TEST(Encoder, MisShapedTensorFailsByName) {
  // A DistilBERT config pointed at BERT weights: every DistilBERT name is missing.
  try {
    const io::ModelConfig c = io::read_model_config(kFixtures + "distilbert_tiny");
    const io::TensorFile file = io::open_checkpoint(kFixtures + "bert_tiny");
    bind_weights(c, file);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "transformer.layer.0.attention.q_lin.weight: missing (expected [48, 48])"),
              std::string::npos)
        << e.what();
  }
}

TEST(Encoder, OutOfRangeIdIsAnError) {
  const Encoder encoder = Encoder::load(kFixtures + "bert_tiny");
  PackedBatch batch;
  const std::vector<std::int32_t> ids{2, 100000, 3};
  batch.add(ids, {});
  std::vector<float> hidden;
  EXPECT_THROW(encoder.forward(batch, hidden), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::model
