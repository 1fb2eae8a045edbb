// bertlite/classifier.h - classifiers on feature rows: logistic regression as scikit-learn's
// LogisticRegression(solver="lbfgs") fits it, the majority baseline, and saved classifier
// files (what `bertlite train` writes and `bertlite predict` reads).
//
//   #include <bertlite/classifier.h>
//
//   bertlite::MatrixView x{features.data, features.rows, features.cols};   // borrowed
//   bertlite::LogisticRegression model({.C = 1.0});
//   model.fit(x, labels);                                  // labels: int64 per row
//   std::vector<double> p = model.predict_proba(x);        // [rows, classes]
//   bertlite::save_classifier("sst2.classifier.json",
//                             {.model = model, .encoder = {.model = "all-MiniLM-L6-v2",
//                                                          .pooling = "mean"}});
//   auto saved = bertlite::load_classifier("sst2.classifier.json");
//
// Ownership: a MatrixView borrows its rows (they must outlive the call); a LogisticRegression
// owns its coefficients (copyable). Thread safety: fit() mutates, so one thread at a time; once
// fitted, predict(), predict_proba(), decision_function() and score() are const and may run
// on several threads at once. Results do not depend on the thread count.
#pragma once

#include "learn/classifier_file.h"
#include "learn/labels.h"
#include "learn/logistic_regression.h"
#include "learn/matrix.h"
#include "learn/metrics.h"
#include "learn/model_selection.h"
#include "learn/split.h"

namespace bertlite {

using learn::ClassWeight;
using learn::FitReport;
using learn::LogisticRegression;
using learn::LogisticRegressionOptions;
using learn::MajorityClassifier;
using learn::Matrix;
using learn::MatrixView;

using learn::check_encoder;
using learn::EncoderSpec;
using learn::load_classifier;
using learn::save_classifier;
using learn::SavedClassifier;

}  // namespace bertlite
