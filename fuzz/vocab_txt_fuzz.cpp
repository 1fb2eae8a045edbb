// fuzz/vocab_txt_fuzz.cpp - fuzz target: arbitrary bytes as a model folder's vocab.txt (and
// tokenizer_config.json), the files a BERT checkpoint without tokenizer.json is read from.
//
// Input: vocab.txt's bytes, 0xFF, tokenizer_config.json's text (absent when there is no
// second part), 0xFF, a text to encode. Tokenizer::from_vocab_file takes paths, so the harness
// writes the files to a scratch folder first.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - loading returns or throws a bertlite::Error with a message; no other exception escapes,
//     nothing crashes or trips a sanitizer;
//   - the vocabulary holds no more tokens than the file has lines, and every token maps back to
//     an id: token_id(token(i)) is an id whose token is token(i) (a repeated line keeps one id);
//   - encoding the text gives ids in [0, vocab size), one size for every Encoding vector, and
//     [CLS] ... [SEP] around them; decode and tokens accept the ids;
//   - reading the same files through Tokenizer::from_folder gives the same encoding.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "fuzz_checks.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t first = std::min(input.find('\xFF'), input.size());
  const std::string_view vocab = input.substr(0, first);
  std::string_view rest = first < input.size() ? input.substr(first + 1) : std::string_view();
  const bool has_config = first < input.size();
  const std::size_t second = std::min(rest.find('\xFF'), rest.size());
  const std::string_view config = rest.substr(0, second);
  const std::string_view text = second < rest.size() ? rest.substr(second + 1) : "a test";

  remove_scratch_file("model");
  const auto vocab_path = write_scratch_file("model/vocab.txt", vocab);
  std::filesystem::path config_path;
  if (has_config) config_path = write_scratch_file("model/tokenizer_config.json", config);

  std::optional<Tokenizer> tokenizer;
  try {
    tokenizer = Tokenizer::from_vocab_file(vocab_path, config_path);
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');
    trace("error:", error.what());
    return;
  }
  trace("loaded");
  const std::size_t vocab_size = tokenizer->info().vocab_size;
  const std::size_t lines = static_cast<std::size_t>(std::count(vocab.begin(), vocab.end(), '\n'));
  FUZZ_CHECK(vocab_size >= 1 && vocab_size <= lines + 1);
  for (std::size_t i = 0; i < vocab_size; ++i) {
    const std::string_view token = tokenizer->token(static_cast<std::int32_t>(i));
    const std::int32_t id = tokenizer->token_id(token);
    FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < vocab_size);
    FUZZ_CHECK(tokenizer->token(id) == token);
  }

  Encoding encoding;
  try {
    encoding = tokenizer->encode(text);
  } catch (const Error& error) {
    FUZZ_CHECK(first_invalid_utf8(text) != std::string_view::npos);  // only bad UTF-8 fails
    return;
  }
  check_same_sizes(encoding);
  FUZZ_CHECK(encoding.ids.size() >= 2);
  for (const std::int32_t id : encoding.ids) {
    FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < vocab_size);
  }
  FUZZ_CHECK(encoding.ids.front() == tokenizer->token_id(tokenizer->token(encoding.ids.front())));
  tokenizer->decode(encoding.ids);
  FUZZ_CHECK(tokenizer->tokens(encoding.ids).size() == encoding.ids.size());

  const Tokenizer from_folder = Tokenizer::from_folder(vocab_path.parent_path());
  FUZZ_CHECK(same_encoding(from_folder.encode(text), encoding));
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
