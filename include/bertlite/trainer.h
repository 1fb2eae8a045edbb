// bertlite/trainer.h - fine-tuning the whole encoder with a classification head (what
// `bertlite finetune` runs), in the separate library bertlite::train: a program that only
// embeds does not link it.
//
//   #include <bertlite/trainer.h>
//
//   auto model = bertlite::SequenceClassifier::load(folder, {.labels = {"negative", "positive"}});
//   auto train = bertlite::encode_examples(tokenizer, texts, {}, labels, 128);
//   bertlite::FinetuneResult r = bertlite::finetune(model, train.examples, dev.examples,
//                                                   {.epochs = 3}, {});
//
// Ownership: a SequenceClassifier owns its parameters, gradients and optimizer state.
// Thread safety: training mutates the model, so one thread drives it (the kernels run on
// set_compute_threads() threads underneath); do not share a SequenceClassifier between threads.
#pragma once

#include "bertlite/tokenizer.h"
#include "train/finetune.h"
#include "train/sequence_classifier.h"

namespace bertlite {

using train::ClassifierOptions;
using train::encode_examples;
using train::EncodedExamples;
using train::Example;
using train::finetune;
using train::FinetuneHooks;
using train::FinetuneOptions;
using train::FinetuneResult;
using train::SequenceClassifier;

}  // namespace bertlite
