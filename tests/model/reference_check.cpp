// tests/model/reference_check.cpp - compares bertlite with what transformers (and
// sentence-transformers) computed for a whole data set, as written by
// tools/make_reference_model.py --expected. Run by tests/python/test_encoder_reference.py on the
// real default model and on a DistilBERT-base-shaped checkpoint; exits 1 when any figure is
// outside its tolerance, printing every figure either way.
//
//   encoder_reference_check MODEL_DIR EXPECTED.safetensors SENTENCES.tsv
//       [--max-abs 1e-4] [--min-cosine 0.99999]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "io/dataset.h"
#include "io/safetensors.h"
#include "model/features.h"

namespace {

using namespace bertlite;

struct Comparison {
  double max_abs = 0;
  double min_cosine = 1;
};

// Row-wise: the largest absolute difference anywhere, and the smallest cosine of a row pair.
Comparison compare_rows(const float* got, const float* want, std::int64_t rows, std::int64_t cols) {
  Comparison c;
  for (std::int64_t r = 0; r < rows; ++r) {
    double dot = 0, gg = 0, ww = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double g = got[r * cols + j], w = want[r * cols + j];
      c.max_abs = std::max(c.max_abs, std::abs(g - w));
      dot += g * w;
      gg += g * g;
      ww += w * w;
    }
    if (gg > 0 || ww > 0) c.min_cosine = std::min(c.min_cosine, dot / std::sqrt(gg * ww));
  }
  return c;
}

int run(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s MODEL_DIR EXPECTED.safetensors SENTENCES.tsv "
                 "[--max-abs X] [--min-cosine Y]\n",
                 argv[0]);
    return 2;
  }
  const std::string folder = argv[1];
  double max_abs = 1e-4, min_cosine = 0.99999;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--max-abs")
      max_abs = std::stod(argv[i + 1]);
    else if (flag == "--min-cosine")
      min_cosine = std::stod(argv[i + 1]);
    else
      throw InvalidArgument("unknown option " + flag);
  }

  const auto extractor = model::FeatureExtractor::load(folder);
  const model::Encoder& encoder = extractor.encoder();
  const std::int64_t H = encoder.config().hidden;
  const io::TensorFile expected = io::open_safetensors(argv[2]);
  const std::vector<std::int64_t> offsets = expected.integers("offsets");
  const std::vector<std::int64_t> ids = expected.integers("input_ids");
  const bool has_types = expected.contains("token_type_ids");
  const std::vector<std::int64_t> types =
      has_types ? expected.integers("token_type_ids") : std::vector<std::int64_t>(ids.size(), 0);
  const std::vector<std::string> sentences = io::column(io::read_table(argv[3]), "0");
  const auto N = static_cast<std::int64_t>(offsets.size()) - 1;
  if (static_cast<std::int64_t>(sentences.size()) != N) {
    throw InvalidArgument("the expected file has " + std::to_string(N) + " sentences, " +
                          std::string(argv[3]) + " " + std::to_string(sentences.size()));
  }
  bool ok = true;
  const auto report = [&](const char* what, const Comparison& c, bool check_cosine) {
    const bool pass = c.max_abs <= max_abs && (!check_cosine || c.min_cosine >= min_cosine);
    ok = ok && pass;
    std::printf("%-22s max |diff| %.3g   min cosine %.8f   %s\n", what, c.max_abs, c.min_cosine,
                pass ? "ok" : "FAIL");
  };

  // 1. The tokenizer gives transformers' ids for every sentence.
  EncodeOptions encode;
  encode.max_length = static_cast<std::size_t>(encoder.config().max_positions);
  std::int64_t token_mismatches = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const Encoding e = extractor.tokenizer().encode(sentences[i], encode);
    const std::vector<std::int64_t> want(ids.begin() + offsets[i], ids.begin() + offsets[i + 1]);
    token_mismatches += !std::equal(e.ids.begin(), e.ids.end(), want.begin(), want.end());
  }
  std::printf("%lld sentences, %lld tokens; tokenizer mismatches: %lld\n",
              static_cast<long long>(N), static_cast<long long>(ids.size()),
              static_cast<long long>(token_mismatches));
  ok = ok && token_mismatches == 0;

  // 2. last_hidden_state and pooled features from the expected ids, in packed batches of
  // mixed lengths (file order, about 4096 tokens each).
  std::vector<float> hidden_all(ids.size() * H);
  std::vector<std::vector<float>> pooled(6, std::vector<float>(static_cast<std::size_t>(N * H)));
  const io::Pooling poolings[3] = {io::Pooling::kCls, io::Pooling::kMean, io::Pooling::kPooler};
  const int pooling_count = encoder.has_pooler() ? 3 : 2;
  model::PackedBatch batch;
  std::vector<float> hidden;
  for (std::int64_t first = 0; first < N;) {
    batch.clear();
    std::int64_t last = first;
    while (last < N && (last == first || offsets[last + 1] - offsets[first] <= 4096)) {
      const std::vector<std::int32_t> seq(ids.begin() + offsets[last],
                                          ids.begin() + offsets[last + 1]);
      const std::vector<std::int32_t> seq_types(types.begin() + offsets[last],
                                                types.begin() + offsets[last + 1]);
      batch.add(seq, seq_types);
      ++last;
    }
    encoder.forward(batch, hidden);
    std::copy(hidden.begin(), hidden.end(), hidden_all.begin() + offsets[first] * H);
    for (int p = 0; p < pooling_count; ++p) {
      for (int normalize = 0; normalize < 2; ++normalize) {
        const std::vector<float> out = encoder.pool(batch, hidden, poolings[p], normalize != 0);
        std::copy(out.begin(), out.end(), pooled[p * 2 + normalize].begin() + first * H);
      }
    }
    first = last;
  }
  report("last_hidden_state",
         compare_rows(hidden_all.data(), expected.floats("last_hidden_state").data.data(),
                      static_cast<std::int64_t>(ids.size()), H),
         false);
  const char* names[6] = {"cls",    "cls_normalized",   "mean", "mean_normalized",
                          "pooler", "pooler_normalized"};
  for (int k = 0; k < pooling_count * 2; ++k) {
    report(names[k], compare_rows(pooled[k].data(), expected.floats(names[k]).data.data(), N, H),
           true);
  }

  // 3. The whole path a user runs (text -> tokens -> features with the folder's default
  // pooling) against sentence-transformers' encode().
  if (expected.contains("st_embedding")) {
    const model::Features f = extractor.extract(sentences, {});
    report("st_embedding",
           compare_rows(f.data.data(), expected.floats("st_embedding").data.data(), N, H), true);
  }
  std::printf("%s (tolerances: max |diff| <= %g, cosine >= %g)\n", ok ? "PASS" : "FAIL", max_abs,
              min_cosine);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encoder_reference_check: error: %s\n", e.what());
    return 1;
  }
}
