// io/convert.h - rewrites a model folder's weights as model.safetensors (`bertlite convert`).
//
// Many published checkpoints carry only pytorch_model.bin. Converting once gives a folder that
// loads by memory map, zero-copy, and that any Hugging Face tool reads as well.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace bertlite::io {

struct ConversionReport {
  std::string source;                // the checkpoint that was read
  std::size_t tensors = 0;           // tensors written
  std::vector<std::string> skipped;  // non-float tensors left out ("name (I64)")
  std::vector<std::string> copied;   // other files copied, relative to the folder
};

// Reads the weights of `folder` (any format open_checkpoint takes) and writes `out`: a new
// folder with model.safetensors (each float tensor in its stored dtype, names unchanged) and
// every other file of the model (config, tokenizer, sentence-transformers modules), without
// the old weight files. Integer buffers such as position_ids are not weights and are skipped.
// `out` must not exist; the folder is built beside it and renamed into place only when
// complete. Throws IoError / ParseError naming the file.
ConversionReport convert_to_safetensors(const std::filesystem::path& folder,
                                        const std::filesystem::path& out);

}  // namespace bertlite::io
