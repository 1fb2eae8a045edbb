// tests/learn/classifier_file_test.cpp - saved classifiers: exact round trip, atomic writes,
// format and version errors naming the file and field, encoder mismatch.
#include "learn/classifier_file.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>

#include "bertlite/error.h"
#include "learn_test_helpers.h"

namespace bertlite::learn {
namespace {

using test::dataset;
using test::TempDir;
using test::throws_with;

SavedClassifier trained(const std::string& name) {
  const test::Dataset& d = dataset(name);
  SavedClassifier c;
  c.model = LogisticRegression({.C = 0.5, .class_weight = ClassWeight::kBalanced});
  c.model.fit(d.train_x.view(), d.train_y);
  for (std::int64_t label : c.model.classes())
    c.label_names.push_back("label " + std::to_string(label));
  c.encoder = {
      .model = "all-MiniLM-L6-v2", .pooling = "mean", .normalize = true, .max_length = 128};
  c.training = {{"best_C", 0.5}, {"cv_mean", 0.875}, {"rows", d.train_y.size()}};
  return c;
}

TEST(ClassifierFile, RoundTripIsExact) {
  TempDir dir;
  for (const char* name : {"binary", "multi"}) {
    SCOPED_TRACE(name);
    const SavedClassifier c = trained(name);
    const auto path = dir / (std::string(name) + ".json");
    save_classifier(path, c);
    const SavedClassifier loaded = load_classifier(path);
    EXPECT_EQ(loaded.model.classes(), c.model.classes());
    EXPECT_EQ(loaded.model.n_features(), c.model.n_features());
    // Bit for bit: every double is written in a form that parses back to itself.
    ASSERT_EQ(loaded.model.coef().size(), c.model.coef().size());
    for (std::size_t i = 0; i < c.model.coef().size(); ++i) {
      ASSERT_EQ(std::bit_cast<std::uint64_t>(loaded.model.coef()[i]),
                std::bit_cast<std::uint64_t>(c.model.coef()[i]));
    }
    EXPECT_EQ(loaded.model.intercept(), c.model.intercept());
    EXPECT_EQ(loaded.model.options().C, 0.5);
    EXPECT_EQ(loaded.model.options().class_weight, ClassWeight::kBalanced);
    EXPECT_EQ(loaded.label_names, c.label_names);
    EXPECT_EQ(loaded.encoder, c.encoder);
    EXPECT_EQ(loaded.training, c.training);
    const test::Dataset& d = dataset(name);
    EXPECT_EQ(loaded.model.predict_proba(d.test_x.view()), c.model.predict_proba(d.test_x.view()));
    // Saving what was loaded gives the same bytes.
    EXPECT_EQ(classifier_to_json(loaded), util::read_file(path));
  }
}

TEST(ClassifierFile, ExtremeDoublesRoundTrip) {
  std::mt19937_64 rng(1);
  std::vector<double> coef;
  for (int i = 0; i < 2000; ++i) {
    double v;
    do {
      v = std::bit_cast<double>(rng());
    } while (!std::isfinite(v));
    coef.push_back(v);
  }
  coef.push_back(5e-324);
  coef.push_back(-0.0);
  coef.push_back(0.1);
  SavedClassifier c;
  c.model = LogisticRegression::from_parameters({0, 1}, coef, {1.0 / 3}, coef.size());
  c.encoder = {.model = "m", .pooling = "cls", .normalize = false, .max_length = 512};
  const SavedClassifier loaded = classifier_from_json(classifier_to_json(c), "memory");
  for (std::size_t i = 0; i < coef.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(loaded.model.coef()[i]),
              std::bit_cast<std::uint64_t>(coef[i]))
        << coef[i];
  }
  EXPECT_EQ(loaded.model.intercept()[0], 1.0 / 3);
}

TEST(ClassifierFile, WritesAtomically) {
  TempDir dir;
  const SavedClassifier c = trained("binary");
  const auto path = dir / "model.json";
  util::write_file_atomic(path, "previous contents");
  // An unfitted model is refused before anything is written: the old file stays whole.
  SavedClassifier unfitted = c;
  unfitted.model = LogisticRegression();
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { save_classifier(path, unfitted); }, "not fitted"));
  EXPECT_EQ(util::read_file(path), "previous contents");
  save_classifier(path, c);
  // No temporary files left beside it.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "model.json");
  }
  EXPECT_EQ(files, 1);
  // A folder that does not exist: an IoError naming the path, nothing created.
  EXPECT_TRUE(throws_with<IoError>([&] { save_classifier(dir / "missing" / "m.json", c); },
                                   "missing/m.json"));
}

nlohmann::json saved_json() {
  return nlohmann::json::parse(classifier_to_json(trained("multi")));
}

TEST(ClassifierFile, FormatAndVersionErrors) {
  nlohmann::json j = saved_json();
  EXPECT_EQ(j["format"], "bertlite-classifier");
  EXPECT_EQ(j["version"], 1);
  auto load = [](const nlohmann::json& doc) { classifier_from_json(doc.dump(), "m.json"); };

  j["version"] = 2;
  EXPECT_TRUE(throws_with<Unsupported>([&] { load(j); },
                                       "m.json: field \"version\" is 2: written by a newer"));
  j = saved_json();
  j["format"] = "sklearn-pickle";
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); },
                                      "m.json: field \"format\" is \"sklearn-pickle\", expected"));
  j = saved_json();
  j.erase("intercept");
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); }, "field \"intercept\" is missing"));
  j = saved_json();
  j["encoder"]["pooling"] = "max";
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); }, "field \"encoder.pooling\" is \"max\""));
  j = saved_json();
  j["encoder"]["normalize"] = "yes";
  EXPECT_TRUE(throws_with<ParseError>(
      [&] { load(j); }, "field \"encoder.normalize\" must be true or false, got string"));
  j = saved_json();
  j["coef"][1].erase(0);
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); }, "field \"coef\" must hold 24 numbers"));
  j = saved_json();
  j["label_names"].erase(0);
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); }, "2 names for 3 classes"));
  j = saved_json();
  j["classes"] = {7, 3, 11};
  EXPECT_TRUE(throws_with<ParseError>([&] { load(j); }, "m.json: LogisticRegression: classes"));
  EXPECT_TRUE(throws_with<ParseError>([&] { classifier_from_json("{\"format\": ", "m.json"); },
                                      "m.json: not valid JSON"));
  EXPECT_TRUE(
      throws_with<IoError>([&] { load_classifier("/nonexistent/m.json"); }, "/nonexistent/m.json"));
}

TEST(ClassifierFile, EncoderMismatch) {
  const SavedClassifier c = trained("binary");
  EXPECT_NO_THROW(check_encoder(c, "m.json", c.encoder));
  EncoderSpec other = c.encoder;
  other.pooling = "cls";
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { check_encoder(c, "m.json", other); },
                                           "m.json: the classifier was trained on features of "
                                           "another encoder setting: expects pooling \"mean\", "
                                           "got \"cls\""));
  other.normalize = false;
  other.max_length = 512;
  other.model = "bert-base-uncased";
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { check_encoder(c, "m.json", other); },
      "expects model \"all-MiniLM-L6-v2\", got \"bert-base-uncased\", pooling \"mean\", got "
      "\"cls\", normalize true, got false, max_length 128, got 512"));
}

}  // namespace
}  // namespace bertlite::learn
