// bertlite/features.h - sentences in, one feature vector per sentence out: tokenizer and
// encoder in one call, as `bertlite embed` runs them.
//
//   #include <bertlite/features.h>
//
//   auto extractor = bertlite::FeatureExtractor::load(bertlite::resolve_model("all-MiniLM-L6-v2"));
//   bertlite::FeatureOptions options;             // defaults: the model folder's pooling
//   bertlite::Features f = extractor.extract(sentences, options);
//   // f.data is float32 [f.rows, f.cols], row i for sentences[i]
//
// Sentences are tokenized, sorted by length and packed into batches of about
// options.batch_tokens real tokens (no padding is ever computed); a sentence's row does not
// depend on the others. Longer inputs than max_length are truncated, refused or read in
// windows (FeatureOptions::long_text).
//
// Ownership: a FeatureExtractor owns its Tokenizer and Encoder (move-only); Features own their
// data. Thread safety: extract() is const and may run on several threads at once on one
// extractor (the Python package's two-thread test does); the progress callback runs on the
// calling thread.
#pragma once

#include "bertlite/encoder.h"
#include "bertlite/tokenizer.h"
#include "model/features.h"

namespace bertlite {

using model::FeatureExtractor;
using model::FeatureOptions;
using model::Features;
using model::LongText;  // kTruncate, kWindow, kError
using model::ProgressCallback;
using model::WindowPooling;  // kMean, kMax, kWeighted

}  // namespace bertlite
