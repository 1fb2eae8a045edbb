// tests/cmake_consumer/main.cpp - what a user's program does with the installed package: load
// a model by folder, tokenize, embed sentences, fit a classifier on the features, save and
// reload it. Prints one line per step for run.cmake to check.
//
//   consumer MODEL_FOLDER OUT_DIR
#include <bertlite/bertlite.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer MODEL_FOLDER OUT_DIR\n");
    return 2;
  }
  try {
    const std::filesystem::path folder = bertlite::resolve_model(argv[1]);
    bertlite::set_compute_threads(0);
    const auto extractor = bertlite::FeatureExtractor::load(folder);

    const bertlite::Encoding e =
        extractor.tokenizer().encode("a visually stunning rumination on love");
    std::printf("tokens:");
    for (const std::int32_t id : e.ids) std::printf(" %d", id);
    std::printf("\n");

    const std::vector<std::string> sentences = {
        "a gorgeous , witty , seductive movie", "the acting is amazing and the story moving",
        "a dull , lifeless and tedious mess", "the worst film of the year , boring"};
    const std::vector<std::int64_t> labels = {1, 1, 0, 0};
    bertlite::FeatureOptions options;
    options.pooling = bertlite::Pooling::kMean;
    const bertlite::Features f = extractor.extract(sentences, options);
    std::printf("features: %lld x %lld\n", static_cast<long long>(f.rows),
                static_cast<long long>(f.cols));

    const bertlite::MatrixView x{f.data, f.rows, f.cols};
    bertlite::LogisticRegression model({.C = 10.0});
    model.fit(x, labels);
    std::printf("train accuracy: %.2f\n", model.score(x, labels));

    const std::filesystem::path file = std::filesystem::path(argv[2]) / "toy.classifier.json";
    bertlite::save_classifier(file,
                              {.model = model,
                               .label_names = {"negative", "positive"},
                               .encoder = {.model = argv[1],
                                           .pooling = "mean",
                                           .normalize = f.normalize,
                                           .max_length = static_cast<std::int64_t>(f.max_length)}});
    const bertlite::SavedClassifier loaded = bertlite::load_classifier(file);
    const bool same = loaded.model.predict_proba(x) == model.predict_proba(x);
    std::printf("reloaded classifier predicts the same: %s\n", same ? "yes" : "no");
    return same ? 0 : 1;
  } catch (const bertlite::Error& error) {
    std::fprintf(stderr, "consumer: error: %s\n", error.what());
    return 1;
  }
}
