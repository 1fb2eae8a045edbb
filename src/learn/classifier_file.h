// learn/classifier_file.h - a trained classifier as one versioned JSON file.
//
//   learn::SavedClassifier saved{.model = result.model, .label_names = labels.names,
//                                .encoder = {.model = "all-MiniLM-L6-v2", .pooling = "cls",
//                                            .normalize = false, .max_length = 512},
//                                .training = {{"best_C", result.best_C}}};
//   learn::save_classifier("sst2.classifier.json", saved);
//   learn::SavedClassifier loaded = learn::load_classifier("sst2.classifier.json");
//   learn::check_encoder(loaded, "sst2.classifier.json", encoder_about_to_be_used);
//
// The file (format "bertlite-classifier", version 1):
//   {"format": "bertlite-classifier", "version": 1, "estimator": "logistic_regression",
//    "encoder": {"model": str, "pooling": "cls"|"mean"|"pooler", "normalize": bool,
//                "max_length": int},
//    "classes": [int, ...], "label_names": [str, ...],      // one name per class, class order
//    "n_features": int,
//    "coef": [[float, ...], ...], "intercept": [float, ...], // [1 or classes][n_features]
//    "options": {"C", "max_iter", "tol", "fit_intercept", "class_weight"},
//    "training": {...}}                                      // free-form summary
// Floats are written in the shortest form that reads back to the same double, so a loaded
// model predicts bit for bit what the saved one did. Files are written atomically. A file of a
// newer version, of another format, or with a missing or mistyped field is a ParseError (or
// Unsupported for a newer version) naming the file and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "learn/logistic_regression.h"

namespace bertlite::learn {

inline constexpr const char* kClassifierFormat = "bertlite-classifier";
inline constexpr int kClassifierVersion = 1;

// What produced the features the classifier was trained on; features from any other encoder
// setting would be meaningless to it.
struct EncoderSpec {
  std::string model;       // model name or folder, as the user gave it
  std::string pooling;     // "cls", "mean" or "pooler"
  bool normalize = false;  // L2-normalized features
  std::int64_t max_length = 0;

  bool operator==(const EncoderSpec&) const = default;
};

struct SavedClassifier {
  LogisticRegression model;              // fitted
  std::vector<std::string> label_names;  // one per model.classes(), or empty for "the number"
  EncoderSpec encoder;
  // Free-form summary: a JSON object (null is saved as {}).
  nlohmann::json training = nlohmann::json::object();
};

// The file's JSON text. Throws InvalidArgument for an unfitted model, label names that do not
// match the classes, a bad pooling name, or `training` that is not an object.
std::string classifier_to_json(const SavedClassifier& classifier);
// Parses the file's JSON text; `source` names it in errors.
SavedClassifier classifier_from_json(std::string_view text, const std::string& source);

// Writes atomically; throws IoError naming the path.
void save_classifier(const std::filesystem::path& path, const SavedClassifier& classifier);
SavedClassifier load_classifier(const std::filesystem::path& path);

// Throws InvalidArgument naming `source` and every field where `actual` differs from the
// encoder the classifier expects ("... expects pooling \"mean\", got \"cls\"").
void check_encoder(const SavedClassifier& classifier, const std::string& source,
                   const EncoderSpec& actual);

// One display name per class, in class order: the saved label names, else the class numbers.
std::vector<std::string> class_names(const SavedClassifier& classifier);

}  // namespace bertlite::learn
