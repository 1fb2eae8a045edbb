// fuzz/model_config_fuzz.cpp - fuzz target: arbitrary bytes as a model folder's config.json,
// modules.json and 1_Pooling/config.json (sentence-transformers).
//
// Input: up to three documents separated by 0xFF (a byte that never occurs in UTF-8, so each
// can still be valid JSON): config.json, then modules.json, then 1_Pooling/config.json. A
// missing document is a missing file. read_model_config takes only a folder, so the harness
// writes them to a scratch folder first.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - parse_model_config(config.json) and read_model_config(folder) return or throw a
//     bertlite::Error with a message; no other exception escapes, nothing crashes or trips a
//     sanitizer;
//   - what they return is runnable-sized: every size positive, hidden a multiple of heads,
//     layers bounded, a positive finite layer_norm_eps, precision empty, "bf16" or "int8";
//   - the folder reader agrees with the text reader on everything config.json alone decides.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/model_config.h"

namespace bertlite::fuzz {
namespace {

void check_config(const io::ModelConfig& c) {
  FUZZ_CHECK(c.vocab_size > 0 && c.hidden > 0 && c.layers > 0 && c.heads > 0);
  FUZZ_CHECK(c.intermediate > 0 && c.max_positions > 0 && c.type_vocab_size >= 0);
  FUZZ_CHECK(c.hidden % c.heads == 0 && c.head_size() > 0);
  FUZZ_CHECK(c.layers <= 1024);
  FUZZ_CHECK(std::isfinite(c.layer_norm_eps) && c.layer_norm_eps > 0);
  FUZZ_CHECK(c.precision.empty() || c.precision == "bf16" || c.precision == "int8");
  (void)io::architecture_name(c.architecture);
  (void)io::activation_name(c.activation);
  FUZZ_CHECK(io::parse_pooling(io::pooling_name(c.pooling)) == c.pooling);
}

bool same_config_json(const io::ModelConfig& a, const io::ModelConfig& b) {
  return a.architecture == b.architecture && a.vocab_size == b.vocab_size && a.hidden == b.hidden &&
         a.layers == b.layers && a.heads == b.heads && a.intermediate == b.intermediate &&
         a.max_positions == b.max_positions && a.type_vocab_size == b.type_vocab_size &&
         a.layer_norm_eps == b.layer_norm_eps && a.activation == b.activation &&
         a.precision == b.precision;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (std::size_t begin = 0; parts.size() < 3;) {
    const std::size_t end = input.find('\xff', begin);
    parts.push_back(input.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }

  std::optional<io::ModelConfig> from_text;
  try {
    from_text = io::parse_model_config(parts[0], "config.json");
    check_config(*from_text);
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');
  }

  const char* names[] = {"model/config.json", "model/modules.json", "model/1_Pooling/config.json"};
  remove_scratch_file("model");
  for (std::size_t i = 0; i < parts.size(); ++i) write_scratch_file(names[i], parts[i]);
  try {
    const io::ModelConfig c = io::read_model_config(scratch_folder() / "model");
    check_config(c);
    FUZZ_CHECK(from_text.has_value() && same_config_json(c, *from_text));
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');
  }
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
