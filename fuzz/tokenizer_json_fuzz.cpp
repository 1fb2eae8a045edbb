// fuzz/tokenizer_json_fuzz.cpp - fuzz target: arbitrary bytes as a tokenizer.json, through
// Tokenizer::from_tokenizer_json_text and, when that succeeds, through encode, encode_batch
// and decode.
//
// A tokenizer.json is hostile input (STYLE.md point 6): loading it must succeed or throw a
// bertlite::Error. Anything else - an nlohmann::json exception leaking out, std::length_error
// or std::bad_alloc from a size taken from the file, a sanitizer report, a hang (libFuzzer's
// -timeout), a huge allocation (-rss_limit_mb / -malloc_limit_mb) - is a bug.
//
// A tokenizer that loads is then run on a few fixed texts and on the input itself (which is
// valid UTF-8 once it parsed as JSON, and holds the file's own tokens). There too only
// bertlite::Error may be thrown, and every Encoding must have one size, ids >= 0 (a negative id
// would index a model's embedding table out of bounds), and text offsets inside the text on
// UTF-8 boundaries. Ids at or above the vocabulary size are allowed: Hugging Face lets added
// tokens and templates name ids outside the model's vocabulary. And every token of the file's
// vocabulary must be found under its own id, as Hugging Face's token_to_id finds it, even when
// two tokens share an id.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "fuzz_checks.h"

namespace bertlite::fuzz {
namespace {

// Texts that reach every stage: added tokens, punctuation, accents, CJK, a dotted capital I,
// a control character, a word longer than 100 characters, and nothing at all.
const std::vector<std::string>& sample_texts() {
  static const std::vector<std::string> texts = {
      "Hello, world! [SEP] naïve İstanbul 中文 it's [MASK]\x07 don't",
      "",
      "unwanted running ##ing [UNK][CLS] ☃ \xF0\x9F\x98\x80",
      std::string(150, 'a') + " " + std::string(40, 'b'),
  };
  return texts;
}

void check_encoding(const Encoding& e, std::string_view a, std::optional<std::string_view> b) {
  check_same_sizes(e);
  for (std::size_t i = 0; i < e.size(); ++i) {
    FUZZ_CHECK(e.ids[i] >= 0);
    FUZZ_CHECK(e.attention_mask[i] == 0 || e.attention_mask[i] == 1);
    if (e.special_tokens_mask[i] != 0) continue;
    // Text tokens: with the templates a tokenizer.json can express, type id 0 marks the first
    // text only when the template says so, so check against the longer bound of the two.
    const Offset o = e.offsets[i];
    const std::string_view text = b && b->size() > a.size() ? *b : a;
    FUZZ_CHECK(o.begin < o.end && o.end <= text.size());
    if (!b) FUZZ_CHECK(on_utf8_boundary(a, o.begin) && on_utf8_boundary(a, o.end));
  }
}

// Looks every token of model.vocab up again. The loader already parsed `input` with the same
// library, so parsing here cannot fail and sees the same (last-wins) duplicate keys.
void check_vocab_lookup(const Tokenizer& t, std::string_view input) {
  const nlohmann::json document = nlohmann::json::parse(input);
  for (const auto& [token, id] : document.at("model").at("vocab").items()) {
    FUZZ_CHECK(t.token_id(token) == id.get<std::int64_t>());
  }
}

// Runs a loaded tokenizer; only bertlite::Error may come out.
void exercise(const Tokenizer& t, std::string_view input) {
  std::vector<std::string> texts = sample_texts();
  texts.emplace_back(input);
  EncodeOptions truncate_and_pad;
  truncate_and_pad.max_length = 12;
  truncate_and_pad.padding = Padding::kMaxLength;
  const EncodeOptions option_sets[] = {EncodeOptions{}, EncodeOptions{false}, truncate_and_pad};
  for (const EncodeOptions& options : option_sets) {
    for (const std::string& text : texts) {
      try {
        const Encoding e = t.encode(text, options);
        check_encoding(e, text, std::nullopt);
        (void)t.decode(e.ids);
        (void)t.tokens(e.ids);
      } catch (const Error&) {
      }
      try {
        const Encoding e = t.encode(text, texts[0], options);
        check_encoding(e, text, texts[0]);
      } catch (const Error&) {
      }
    }
    try {
      EncodeOptions longest = options;
      longest.padding = Padding::kLongest;
      for (const Encoding& e : t.encode_batch(texts, longest, 1)) check_same_sizes(e);
    } catch (const Error&) {
    }
  }
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::optional<Tokenizer> tokenizer;
  try {
    tokenizer.emplace(Tokenizer::from_tokenizer_json_text(input, "fuzz.json"));
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    return;
  }
  // The input parsed as JSON, so it is valid UTF-8 text too.
  FUZZ_CHECK(first_invalid_utf8(input) == std::string_view::npos);
  check_vocab_lookup(*tokenizer, input);
  exercise(*tokenizer, input);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
