// io/convert.h - rewrites a model folder's weights as model.safetensors (`bertlite convert`).
//
// Many published checkpoints carry only pytorch_model.bin. Converting once gives a folder that
// loads by memory map, zero-copy, and that any Hugging Face tool reads as well.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
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

// Creates the folder `out` (which must not exist) by calling fill(staging) on a new folder beside
// it and renaming that into place when fill returns; if fill throws, the staging folder is
// removed and the error propagates. Throws IoError naming `out`.
void build_folder_atomically(const std::filesystem::path& out,
                             const std::function<void(const std::filesystem::path& staging)>& fill);

// Copies the non-weight files of a model folder (config, tokenizer, sentence-transformers
// modules; not weight files of any framework, hidden files, or names in `skip`) into `dest`,
// keeping sub-folders. Returns the copied paths, relative to the folder.
std::vector<std::string> copy_model_files(const std::filesystem::path& folder,
                                          const std::filesystem::path& dest,
                                          const std::set<std::string>& skip = {});

}  // namespace bertlite::io
