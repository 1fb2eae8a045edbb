// io/model_path.h - turns what a user passes as --model into a folder of model files.
//
// Order: an existing folder path; then NAME inside each folder of $BERTLITE_MODELS
// (colon-separated); then NAME inside the project's models/ folder, where set-up links the
// default model (all-MiniLM-L6-v2). For "org/name" the last component is tried too. Last, a
// Hugging Face Hub name ("name", "org/name", either with "@revision") resolves to a snapshot
// of the Hugging Face cache, downloaded if needed (io/hub.h; honours HF_HOME, HF_HUB_OFFLINE,
// HF_ENDPOINT, HF_TOKEN).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace bertlite::io {

// The model bertlite uses when none is named.
inline constexpr const char* kDefaultModel = "all-MiniLM-L6-v2";

// The folders searched for a model name, in order.
std::vector<std::filesystem::path> model_search_path();

// Resolves `name_or_path` to a folder. Throws IoError listing where it looked (and, for a hub
// name, why the hub could not provide it).
std::filesystem::path resolve_model(const std::string& name_or_path);

}  // namespace bertlite::io
