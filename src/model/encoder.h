// model/encoder.h - a DistilBERT or BERT encoder loaded from a Hugging Face folder, run on
// packed batches.
//
// Shapes (this file): B sequences, T real tokens in all (no padding anywhere), H hidden size,
// NH heads, D = H / NH, I the FFN width.
//
// A packed batch concatenates its sequences' tokens into one [T, H] matrix with a table of
// sequence starts. Every GEMM runs over the T real tokens; attention runs per sequence, each
// token attending only to its own sequence. So a sentence's output does not depend on what else
// is in its batch, and no FLOP is spent on padding.
//
// Per layer (post-LN, both architectures):
//   qkv  = x Wqkv^T + bqkv                  one GEMM, N = 3H (query, key, value side by side)
//   ctx  = softmax(q k^T / sqrt(D)) v       per sequence and head
//   a    = LayerNorm(ctx Wo^T + bo + x)
//   x    = LayerNorm(gelu(a W1^T + b1) W2^T + b2 + a)
// DistilBERT scales q before the product and BERT the scores after it; both equal the above.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "io/model_config.h"
#include "io/tensor_file.h"
#include "kernels/linear.h"
#include "model/weights.h"

namespace bertlite::model {

// Token ids of B sequences, packed one after another.
struct PackedBatch {
  std::vector<std::int32_t> ids;        // [T]
  std::vector<std::int32_t> type_ids;   // [T]; ignored by DistilBERT
  std::vector<std::int32_t> positions;  // [T]: 0, 1, ... within each sequence
  std::vector<std::int64_t> starts{0};  // [B + 1]: sequence b is rows [starts[b], starts[b + 1])

  std::int64_t tokens() const { return static_cast<std::int64_t>(ids.size()); }
  std::int64_t sequences() const { return static_cast<std::int64_t>(starts.size()) - 1; }
  // Appends one sequence.
  void add(std::span<const std::int32_t> sequence_ids,
           std::span<const std::int32_t> sequence_type_ids);
  void clear();
};

// Sees named intermediates as they are computed, for debugging and for comparing layer by
// layer with PyTorch hooks: "embeddings" (layer -1), then per layer "qkv" ([T, 3H]: q | k | v),
// "attention_output", "intermediate" and "hidden". `data` is [rows, cols], valid only during the
// call.
using Observer = std::function<void(std::string_view name, int layer, const float* data,
                                    std::int64_t rows, std::int64_t cols)>;

// Where forward() spends its time: seconds and useful FLOPs per stage, summed over calls, for
// `bertlite embed --profile`. FLOPs count multiply-adds as 2 and only real (packed) tokens.
struct ForwardProfile {
  enum Stage {
    kEmbeddings,       // lookups + LayerNorm
    kQkv,              // the fused QKV GEMM
    kAttention,        // scores, softmax, weighted values
    kAttentionOutput,  // output projection GEMM
    kAttentionNorm,    // residual + LayerNorm
    kFfnIn,            // GEMM + GELU
    kFfnOut,           // GEMM
    kOutputNorm,       // residual + LayerNorm
    kStageCount
  };
  static const char* stage_name(int stage);

  std::array<double, kStageCount> seconds{};
  std::array<double, kStageCount> flops{};
  std::vector<double> layer_seconds;  // per layer, all stages
  std::vector<double> layer_flops;
  std::int64_t calls = 0;
  std::int64_t tokens = 0;
  // Filled by FeatureExtractor around the encoder: tokenizing, and pooling the outputs.
  double tokenize_seconds = 0;
  double pooling_seconds = 0;

  double total_seconds() const;
  double total_flops() const;
};

struct ForwardOptions {
  // Only the first row ([CLS]) of each sequence is wanted from the last layer. That layer then
  // still projects Q, K and V for every token (keys and values need them) but runs attention,
  // the output GEMM, the FFN and both LayerNorms for B rows instead of T, and forward() returns
  // hidden[B, H]: row b is sequence b's [CLS] row, equal to the full computation's.
  bool cls_rows_only = false;
  ForwardProfile* profile = nullptr;  // accumulates when set
  Observer observer;
};

class Encoder {
 public:
  // Loads config.json and the weights (safetensors or pytorch_model.bin) of a model folder.
  // Throws bertlite::Error naming the file and tensor for anything missing or mis-shaped.
  // `precision` is the GEMMs' number format (kernels/linear.h); embeddings, LayerNorm,
  // attention and the pooler stay in float. Unset: the folder's (int8 or bf16 for a
  // `bertlite quantize` folder, else fp32). Int8 weights stored in the file are used as they
  // are, never re-quantized; asked for another precision, they are dequantized first.
  static Encoder load(const std::filesystem::path& folder,
                      std::optional<kernels::Precision> precision = std::nullopt);

  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;
  ~Encoder();

  const io::ModelConfig& config() const { return config_; }
  // Number of parameters the encoder uses (embeddings, layers, pooler when present).
  std::int64_t parameter_count() const { return parameter_count_; }
  bool has_pooler() const { return pooler_ != nullptr; }
  kernels::Precision precision() const { return precision_; }
  // oneDNN's implementation of the layers' GEMMs (e.g. "brg:avx512_core_amx"), for reports.
  std::string gemm_implementation() const;

  // last_hidden_state for every token of the batch: hidden[T, H]. Throws InvalidArgument for
  // an id, type id or position outside its table.
  void forward(const PackedBatch& batch, std::vector<float>& hidden,
               const Observer& observer = {}) const;
  // The same with options: [CLS] rows only, profiling.
  void forward(const PackedBatch& batch, std::vector<float>& hidden,
               const ForwardOptions& options) const;

  // The attention probabilities of one sequence in every layer, as transformers gives them with
  // output_attentions=True: result[l] is [NH, T, T], row i of head h how token i's query
  // spreads over the T keys (each row sums to 1). For pictures of one sentence: it runs a
  // forward pass of its own.
  std::vector<std::vector<float>> attention_probabilities(
      std::span<const std::int32_t> ids, std::span<const std::int32_t> type_ids) const;

  // Sentence features [B, H] from forward()'s output: the [CLS] row, the mean over the
  // sequence's tokens, or BERT's pooler (tanh(dense(h[CLS]))); optionally L2-normalized.
  std::vector<float> pool(const PackedBatch& batch, const std::vector<float>& hidden,
                          io::Pooling pooling, bool normalize) const;
  // The same from the [CLS] rows alone (forward() with cls_rows_only): hidden_cls[B, H]. Only
  // cls and pooler pooling can be computed from them.
  std::vector<float> pool_cls_rows(const std::vector<float>& hidden_cls, io::Pooling pooling,
                                   bool normalize) const;

 private:
  Encoder() = default;
  // rows[B, H] holds [CLS] rows (or means): applies the pooler layer for kPooler, then the L2
  // normalization if asked.
  void finish_pooling(std::vector<float>& rows, std::int64_t B, io::Pooling pooling,
                      bool normalize) const;

  struct Layer;
  io::ModelConfig config_;
  io::TensorFile file_;  // owns (or maps) the embedding and LayerNorm weights
  EncoderWeights weights_;
  std::vector<Layer> layers_;
  std::unique_ptr<kernels::Linear> pooler_;  // tanh fused; null when the file has none
  std::int64_t parameter_count_ = 0;
  kernels::Precision precision_ = kernels::Precision::kF32;
};

}  // namespace bertlite::model
