// fuzz/sharded_index_fuzz.cpp - fuzz target: arbitrary bytes as a sharded checkpoint's index,
// model.safetensors.index.json, the file that names which shard holds each tensor of a large
// Hugging Face model (and which shard files bertlite opens).
//
// Input: the index's bytes, optionally followed by 0xFF and the bytes of the second shard
// (0xFF never occurs in UTF-8, so JSON never holds it). The harness writes, into a scratch
// model folder: the index; shard-1.safetensors (tensors "a" and "b"); shard-2.safetensors (the
// input's second part, or tensor "c"); and, in the folder above, a decoy outside.safetensors
// with a tensor "secret" that no index may reach.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - open_checkpoint returns or throws a bertlite::Error with a message; no other exception
//     escapes, nothing crashes or trips a sanitizer;
//   - what it returns holds every tensor the index names, loads each one like a checkpoint's
//     (tensor_checks.h), and never the decoy's tensor: a shard is a file in the model folder;
//   - the model folder holds afterwards exactly the files the harness wrote.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/tensor_file.h"
#include "tensor_checks.h"

namespace bertlite::fuzz {
namespace {

namespace fs = std::filesystem;

// A safetensors file of float32 tensors of shape [2], each named by a letter.
std::string shard_bytes(const std::vector<std::string>& names) {
  std::string header = "{";
  std::string data;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t begin = data.size();
    const float values[2] = {static_cast<float>(i) + 0.5f, -1.0f};
    data.append(reinterpret_cast<const char*>(values), sizeof values);
    if (i > 0) header += ",";
    header += "\"" + names[i] + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" +
              std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  header.append(-header.size() % 8, ' ');
  std::string out(8, '\0');
  for (int b = 0; b < 8; ++b) out[b] = static_cast<char>((header.size() >> (8 * b)) & 0xFF);
  return out + header + data;
}

std::set<std::string> folder_listing(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.insert(entry.path().filename());
  return names;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\xFF');
  const std::string_view index = input.substr(0, split);
  static const std::string default_second_shard = shard_bytes({"c"});
  const std::string second_shard =
      split == std::string_view::npos ? default_second_shard : std::string(input.substr(split + 1));

  remove_scratch_file("model");
  write_scratch_file("outside.safetensors", shard_bytes({"secret"}));
  write_scratch_file("model/shard-1.safetensors", shard_bytes({"a", "b"}));
  write_scratch_file("model/shard-2.safetensors", second_shard);
  const fs::path index_path = write_scratch_file("model/model.safetensors.index.json", index);
  const fs::path folder = index_path.parent_path();
  const std::set<std::string> written = folder_listing(folder);

  std::optional<io::TensorFile> file;
  try {
    file.emplace(io::open_checkpoint(folder));
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    trace("refused", error.what());
  }
  FUZZ_CHECK(folder_listing(folder) == written);
  if (!file) return;
  trace("opened", std::to_string(file->size()) + " tensors");
  FUZZ_CHECK(!file->contains("secret"));
  check_tensor_file(*file, size + 256);

  // Every tensor the index names is there (the index parsed, or open_checkpoint would have
  // thrown; nlohmann keeps the last of duplicate keys, as the reader sees them).
  const nlohmann::json parsed = nlohmann::json::parse(index);
  for (const auto& [name, shard] : parsed.at("weight_map").items()) {
    FUZZ_CHECK(file->contains(name));
    FUZZ_CHECK(shard.is_string());
  }
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
