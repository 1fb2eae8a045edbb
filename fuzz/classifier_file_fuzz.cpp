// fuzz/classifier_file_fuzz.cpp - fuzz target: arbitrary bytes as a classifier file (the
// versioned JSON `bertlite train` writes and `bertlite predict` reads).
//
// Input: the file's text - {"format", "version", "estimator", "encoder", "classes",
// "label_names", "n_features", "coef", "intercept", "options", "training"}.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - classifier_from_json returns or throws a bertlite::Error with a message; no other
//     exception escapes, nothing crashes or trips a sanitizer;
//   - what it returns is a fitted model whose sizes agree: at least two increasing classes,
//     one label name per class (or none), coef [1 or classes][n_features], and n_features no
//     larger than the input can spell out;
//   - it saves again (classifier_to_json), and the saved text reads back to the same file
//     text (a save-load-save fixed point), so `bertlite predict` gets what was written;
//   - predict and predict_proba on one row of n_features values return one class of the
//     model and probabilities for each class; check_encoder accepts its own encoder.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "learn/classifier_file.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  learn::SavedClassifier c;
  try {
    c = learn::classifier_from_json(text, "fuzz.classifier.json");
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    return;
  }
  const learn::LogisticRegression& m = c.model;
  FUZZ_CHECK(m.fitted());
  FUZZ_CHECK(m.classes().size() >= 2);
  FUZZ_CHECK(std::adjacent_find(m.classes().begin(), m.classes().end(),
                                [](auto a, auto b) { return a >= b; }) == m.classes().end());
  FUZZ_CHECK(c.label_names.empty() || c.label_names.size() == m.classes().size());
  FUZZ_CHECK(m.n_features() >= 1 && static_cast<std::uint64_t>(m.n_features()) <= size);
  const std::size_t rows = m.classes().size() == 2 ? 1 : m.classes().size();
  FUZZ_CHECK(static_cast<std::size_t>(m.coef_rows()) == rows);
  FUZZ_CHECK(m.coef().size() == rows * static_cast<std::size_t>(m.n_features()));
  FUZZ_CHECK(learn::class_names(c).size() == m.classes().size());
  learn::check_encoder(c, "fuzz.classifier.json", c.encoder);

  // Save, load, save: the second save is the first.
  const std::string saved = learn::classifier_to_json(c);
  const learn::SavedClassifier again = learn::classifier_from_json(saved, "saved.json");
  FUZZ_CHECK(learn::classifier_to_json(again) == saved);
  FUZZ_CHECK(again.model.classes() == m.classes());
  FUZZ_CHECK(again.model.coef() == m.coef());
  FUZZ_CHECK(again.model.intercept() == m.intercept());

  const std::vector<float> row(static_cast<std::size_t>(m.n_features()), 1.0f);
  const learn::MatrixView x{row, 1, m.n_features()};
  try {
    const std::vector<std::int64_t> predicted = m.predict(x);
    FUZZ_CHECK(predicted.size() == 1);
    FUZZ_CHECK(std::find(m.classes().begin(), m.classes().end(), predicted[0]) !=
               m.classes().end());
    FUZZ_CHECK(m.predict_proba(x).size() == m.classes().size());
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
