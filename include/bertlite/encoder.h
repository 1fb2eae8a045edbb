// bertlite/encoder.h - a BERT or DistilBERT encoder from a Hugging Face folder, run on packed
// batches: last_hidden_state and pooled sentence features.
//
//   #include <bertlite/encoder.h>
//
//   const auto folder = bertlite::resolve_model("all-MiniLM-L6-v2");  // a name or a folder
//   bertlite::Encoder encoder = bertlite::Encoder::load(folder);
//   bertlite::PackedBatch batch;                  // sequences back to back, no padding
//   batch.add(ids, type_ids);                     // e.g. a Tokenizer's Encoding
//   std::vector<float> hidden;                    // [tokens, hidden]
//   encoder.forward(batch, hidden);
//   std::vector<float> rows = encoder.pool(batch, hidden, bertlite::Pooling::kMean, true);
//
// Most programs want sentence features rather than a forward pass: see bertlite/features.h.
//
// Ownership: an Encoder owns its weights (memory-mapped from the folder's safetensors, or
// reordered into the GEMM's layout); it is move-only. Thread safety: once loaded it is
// immutable, and forward(), pool() and every accessor may be called from several threads at
// once (each calling thread gets its own oneDNN stream and scratch buffers).
// Threads per call: set_compute_threads() below, process-wide.
//
// This header names the library's own types (src/model/encoder.h and the layers it builds on);
// they are documented there.
#pragma once

#include "io/model_config.h"
#include "io/model_path.h"
#include "kernels/linear.h"
#include "model/encoder.h"
#include "util/threads.h"

namespace bertlite {

using io::kDefaultModel;
// A model name or path -> its folder: an existing folder, NAME in $BERTLITE_MODELS, the
// project's models/, then the Hugging Face cache (downloading). Throws IoError.
using io::resolve_model;

using io::ModelConfig;
using io::parse_pooling;
using io::Pooling;  // kCls, kMean, kPooler
using io::pooling_name;
using kernels::parse_precision;
using kernels::Precision;  // kF32, kBF16, kInt8: the GEMMs' number format
using kernels::precision_name;

using model::Encoder;
using model::ForwardOptions;
using model::ForwardProfile;
using model::Observer;
using model::PackedBatch;

// Threads the kernels (and FeatureExtractor's tokenizing) use from now on, process-wide: 0 =
// every core the affinity mask and CPU quota allow. Returns the count set.
using util::compute_threads;
using util::set_compute_threads;

}  // namespace bertlite
