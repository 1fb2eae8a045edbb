// fuzz/tokenizer_fuzz.cpp - fuzz target: arbitrary bytes through Tokenizer::encode,
// encode_batch / encode_pair_batch, decode and tokens, on the default model and on a tiny
// vocabulary built with Tokenizer::from_tokens.
//
// Input: byte 0 flags, byte 1 max_length (0 = none), byte 2 pad_to_multiple_of (low 3 bits),
// then the texts, separated by 0xFF - a byte that never occurs in valid UTF-8, so every text
// can still be valid. Flags:
//   bit 0     pairs: texts are taken two at a time as (a, b)
//   bit 1     add_special_tokens
//   bits 2-3  padding: 0 none, 1 longest, 2 max_length, 3 none
//   bit 4     the tiny vocabulary instead of the default model
//   bits 5-6  the tiny tokenizer's lowercase / strip_accents
//   bit 7     batch through the std::string_view overload with threads = 0 (all cores; a
//             batch this small still runs on the calling thread)
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - invalid UTF-8 throws ParseError ending "at byte N", N the first bad byte; valid text
//     throws nothing but InvalidArgument when max_length cannot hold the special tokens; no
//     exception that is not a bertlite::Error ever escapes;
//   - all Encoding vectors have one size; ids are in [0, vocab size); the layout is BERT's
//     template ([CLS] A [SEP] B [SEP], type ids 0 then 1) with special tokens at offset (0, 0);
//     text tokens have begin < end <= text size, on UTF-8 boundaries, begins in order;
//   - truncation keeps min(tokens, max_length), a prefix of each text's tokens, cut longest
//     first, and `truncated` counts the cut; padding, pad ids and the attention mask agree;
//   - batch item i equals encode(text i), up to the batch's padding; a batch error names the
//     first failing item;
//   - decode and tokens accept every id encode returns;
//   - the default model read from tokenizer.json and from vocab.txt + tokenizer_config.json
//     gives identical encodings.
//
// Does not compare with Hugging Face: the golden tests do that; this looks for crashes, hangs
// and broken invariants on inputs nobody wrote down.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
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

constexpr std::size_t kNpos = std::string_view::npos;
constexpr std::size_t kMaxItems = 8;  // texts (or pairs) per input: enough for batch effects

struct Tokenizers {
  Tokenizer model;              // the model folder's tokenizer.json
  Tokenizer model_vocab;        // the same model from vocab.txt (+ tokenizer_config.json)
  std::vector<Tokenizer> tiny;  // from_tokens; index = lowercase + 2 * strip_accents
};

std::filesystem::path model_folder() {
  if (const char* env = std::getenv("BERTLITE_FUZZ_MODEL"); env && *env) return env;
  return BERTLITE_SOURCE_DIR "/models/all-MiniLM-L6-v2";
}

// A vocabulary small enough that most words split into pieces or become [UNK], with the edge
// cases a real vocabulary lacks: an empty token, a bare "##", a repeated token (the later id
// wins), cased and accented forms, CJK, and a dotted i whose lowercase is two characters.
std::vector<std::string> tiny_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "",      "##",    "a",     "##a",    "b",
          "##b",   "e",     "##e",   "i",     "##i",    "the",   "un",    "want",  "##want", "##ed",
          "runn",  "##ing", "hello", "Hello", "##lo",   "naive", "naïve", "é",     "É",      "##é",
          "ß",     "##ß",   "i̇",     "İ",     "中",     "文",    "ア",    "한",    ",",      ".",
          "!",     "?",     "'",     "[",     "]",      "##s",   "a",     "[sep]", "##[SEP]"};
}

const Tokenizers& tokenizers() {
  static const Tokenizers loaded = [] {
    const std::filesystem::path folder = model_folder();
    try {
      const std::filesystem::path config = folder / "tokenizer_config.json";
      Tokenizers t{Tokenizer::from_tokenizer_json(folder / "tokenizer.json"),
                   Tokenizer::from_vocab_file(folder / "vocab.txt", std::filesystem::exists(config)
                                                                        ? config
                                                                        : std::filesystem::path{}),
                   {}};
      for (int i = 0; i < 4; ++i) {
        t.tiny.push_back(Tokenizer::from_tokens(tiny_vocab(), i & 1, i & 2));
      }
      return t;
    } catch (const std::exception& error) {
      // Not a finding: the harness cannot run. Say why and stop.
      std::fprintf(stderr, "tokenizer_fuzz: cannot load %s (set BERTLITE_FUZZ_MODEL): %s\n",
                   folder.c_str(), error.what());
      std::abort();
    }
  }();
  return loaded;
}

struct Item {
  std::string_view a;
  std::optional<std::string_view> b;
};

// What encode did with one item: an Encoding, or the message of the Error it threw.
struct Outcome {
  bool ok = false;
  Encoding encoding;
  std::string error;
};

std::size_t round_up(std::size_t n, std::size_t multiple) {
  return multiple > 1 ? (n + multiple - 1) / multiple * multiple : n;
}

// Encodes one item and checks the error contract; the Encoding itself is checked later.
Outcome encode_checked(const Tokenizer& t, const Item& item, const EncodeOptions& options) {
  const std::size_t bad_a = first_invalid_utf8(item.a);
  const std::size_t bad_b = item.b ? first_invalid_utf8(*item.b) : kNpos;
  const std::size_t specials =
      options.add_special_tokens ? t.num_special_tokens(item.b.has_value()) : 0;
  Outcome out;
  try {
    out.encoding = item.b ? t.encode(item.a, *item.b, options) : t.encode(item.a, options);
    out.ok = true;
    FUZZ_CHECK(bad_a == kNpos && bad_b == kNpos);  // invalid UTF-8 was accepted
    FUZZ_CHECK(options.max_length == 0 || options.max_length >= specials);
  } catch (const ParseError& error) {
    // Only invalid UTF-8 is a ParseError here, and the message names the first bad byte of
    // the first text at fault.
    out.error = error.what();
    const std::size_t bad = bad_a != kNpos ? bad_a : bad_b;
    FUZZ_CHECK(bad != kNpos);
    FUZZ_CHECK(std::string_view(out.error).ends_with("at byte " + std::to_string(bad)));
  } catch (const Error& error) {
    out.error = error.what();
    FUZZ_CHECK(bad_a == kNpos && bad_b == kNpos);
    FUZZ_CHECK(options.max_length > 0 && options.max_length < specials);
  }
  return out;
}

// The text tokens of one sequence of an Encoding, in order.
struct Content {
  std::vector<std::int32_t> ids;
  std::vector<Offset> offsets;
};

bool is_prefix(const Content& part, const Content& whole) {
  if (part.ids.size() > whole.ids.size()) return false;
  for (std::size_t i = 0; i < part.ids.size(); ++i) {
    if (part.ids[i] != whole.ids[i] || !(part.offsets[i] == whole.offsets[i])) return false;
  }
  return true;
}

// Checks one successful Encoding on its own and returns its text tokens per sequence.
// `real` is the number of non-padding tokens.
std::pair<Content, Content> check_encoding(const Tokenizer& t, const Item& item,
                                           const EncodeOptions& options, const Encoding& e,
                                           std::size_t& real) {
  check_same_sizes(e);
  const auto vocab_size = static_cast<std::int64_t>(t.info().vocab_size);
  for (std::int32_t id : e.ids) FUZZ_CHECK(id >= 0 && id < vocab_size);

  // Attention mask: 1 for the real tokens, then 0 for padding, which is all pad tokens.
  real = 0;
  while (real < e.size() && e.attention_mask[real] == 1) ++real;
  for (std::size_t i = real; i < e.size(); ++i) {
    FUZZ_CHECK(e.attention_mask[i] == 0);
    FUZZ_CHECK(e.ids[i] == t.pad_id());
    FUZZ_CHECK(e.type_ids[i] == 0);
    FUZZ_CHECK(e.special_tokens_mask[i] == 1);
    FUZZ_CHECK(e.offsets[i] == Offset{});
  }
  // A single encode pads only to max_length; "longest" is a batch-wide notion.
  if (options.padding == Padding::kMaxLength && options.max_length > 0) {
    FUZZ_CHECK(e.size() == round_up(options.max_length, options.pad_to_multiple_of));
  } else {
    FUZZ_CHECK(e.size() == real);
  }
  if (options.max_length > 0) FUZZ_CHECK(real <= options.max_length);
  if (options.max_length == 0) FUZZ_CHECK(e.truncated == 0);

  // Split the text tokens by sequence, then rebuild the template layout around them.
  const bool pair = item.b.has_value();
  Content a, b;
  for (std::size_t i = 0; i < real; ++i) {
    if (e.special_tokens_mask[i] != 0) continue;
    FUZZ_CHECK(e.type_ids[i] == 0 || (pair && e.type_ids[i] == 1));
    Content& c = e.type_ids[i] == 0 ? a : b;
    c.ids.push_back(e.ids[i]);
    c.offsets.push_back(e.offsets[i]);
  }
  std::vector<std::int32_t> ids, type_ids, special;
  auto special_token = [&](const char* name, std::int32_t type_id) {
    ids.push_back(t.token_id(name));
    type_ids.push_back(type_id);
    special.push_back(1);
  };
  auto sequence = [&](const Content& c, std::int32_t type_id) {
    ids.insert(ids.end(), c.ids.begin(), c.ids.end());
    type_ids.insert(type_ids.end(), c.ids.size(), type_id);
    special.insert(special.end(), c.ids.size(), 0);
  };
  if (options.add_special_tokens) special_token("[CLS]", 0);
  sequence(a, 0);
  if (options.add_special_tokens) special_token("[SEP]", 0);
  if (pair) {
    sequence(b, 1);
    if (options.add_special_tokens) special_token("[SEP]", 1);
  }
  FUZZ_CHECK(ids.size() == real);
  FUZZ_CHECK(std::equal(ids.begin(), ids.end(), e.ids.begin()));
  FUZZ_CHECK(std::equal(type_ids.begin(), type_ids.end(), e.type_ids.begin()));
  FUZZ_CHECK(std::equal(special.begin(), special.end(), e.special_tokens_mask.begin()));
  for (std::size_t i = 0; i < real; ++i) {
    if (e.special_tokens_mask[i] != 0) FUZZ_CHECK(e.offsets[i] == Offset{});
  }

  // Offsets of text tokens point into their own text, on character boundaries, in order.
  auto check_offsets = [](const Content& c, std::string_view text) {
    std::uint32_t previous_begin = 0;
    for (const Offset& o : c.offsets) {
      FUZZ_CHECK(o.begin < o.end && o.end <= text.size());
      FUZZ_CHECK(on_utf8_boundary(text, o.begin) && on_utf8_boundary(text, o.end));
      FUZZ_CHECK(o.begin >= previous_begin);
      previous_begin = o.begin;
    }
  };
  check_offsets(a, item.a);
  if (pair) check_offsets(b, *item.b);
  return {std::move(a), std::move(b)};
}

// Checks `e` against `natural`, the same item encoded without truncation or padding.
void check_truncation(const Tokenizer& t, const Item& item, const EncodeOptions& options,
                      const Encoding& e, const Encoding& natural) {
  std::size_t real = 0, natural_real = 0;
  const auto [a, b] = check_encoding(t, item, options, e, real);
  const auto [full_a, full_b] =
      check_encoding(t, item, {options.add_special_tokens}, natural, natural_real);
  FUZZ_CHECK(natural_real == natural.size() && natural.truncated == 0);
  FUZZ_CHECK(real + e.truncated == natural.size());
  if (options.max_length > 0) {
    FUZZ_CHECK(real == std::min(natural.size(), options.max_length));
  } else {
    FUZZ_CHECK(real == natural.size());
  }
  FUZZ_CHECK(is_prefix(a, full_a) && is_prefix(b, full_b));
  // Longest first: when both texts were cut they keep about half each; when one was, it is
  // the longer one.
  const bool cut_a = a.ids.size() < full_a.ids.size();
  const bool cut_b = b.ids.size() < full_b.ids.size();
  if (cut_a && cut_b) {
    const std::size_t kept_a = a.ids.size(), kept_b = b.ids.size();
    FUZZ_CHECK((kept_a > kept_b ? kept_a - kept_b : kept_b - kept_a) <= 1);
  } else if (cut_a) {
    FUZZ_CHECK(full_a.ids.size() >= full_b.ids.size());
  } else if (cut_b) {
    FUZZ_CHECK(full_b.ids.size() >= full_a.ids.size());
  }
}

void check_decode(const Tokenizer& t, const Encoding& e) {
  try {
    (void)t.decode(e.ids, true);
    (void)t.decode(e.ids, false);
  } catch (const Error& error) {
    std::fprintf(stderr, "decode threw for ids from encode: %s\n", error.what());
    FUZZ_CHECK(false);
  }
  const std::vector<std::string> tokens = t.tokens(e.ids);
  FUZZ_CHECK(tokens.size() == e.size());
}

// Encodes the whole input as a batch and compares with the items' single encodes.
void check_batch(const Tokenizer& t, const std::vector<Item>& items,
                 const std::vector<Outcome>& singles, const EncodeOptions& options, bool pairs,
                 bool views) {
  std::vector<std::string> texts;
  std::vector<std::string_view> text_views;
  std::vector<std::pair<std::string, std::string>> text_pairs;
  for (const Item& item : items) {
    if (pairs) {
      text_pairs.emplace_back(item.a, *item.b);
    } else {
      texts.emplace_back(item.a);
      text_views.push_back(item.a);
    }
  }
  // The batch fails as a whole on bad options, else on its first failing item.
  const bool bad_options = (options.padding != Padding::kNone && t.pad_id() < 0) ||
                           (options.padding == Padding::kMaxLength && options.max_length == 0);
  std::size_t first_failure = 0;
  while (first_failure < singles.size() && singles[first_failure].ok) ++first_failure;
  std::vector<Encoding> batch;
  try {
    if (pairs) {
      batch = t.encode_pair_batch(text_pairs, options, views ? 0 : 1);
    } else if (views) {
      batch = t.encode_batch(std::span<const std::string_view>(text_views), options, 0);
    } else {
      batch = t.encode_batch(texts, options, 1);
    }
  } catch (const InvalidArgument&) {
    FUZZ_CHECK(bad_options);
    return;
  } catch (const Error& error) {
    FUZZ_CHECK(!bad_options && first_failure < singles.size());
    const std::string_view message = error.what();
    FUZZ_CHECK(message.starts_with("text " + std::to_string(first_failure) + ": "));
    FUZZ_CHECK(message.ends_with(singles[first_failure].error));
    return;
  }
  FUZZ_CHECK(!bad_options && first_failure == singles.size());
  FUZZ_CHECK(batch.size() == items.size());
  std::size_t longest = 0;
  for (const Outcome& s : singles) longest = std::max(longest, s.encoding.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Encoding& single = singles[i].encoding;
    const Encoding& got = batch[i];
    check_same_sizes(got);
    if (options.padding != Padding::kLongest) {
      FUZZ_CHECK(same_encoding(got, single));
      continue;
    }
    FUZZ_CHECK(got.size() == round_up(longest, options.pad_to_multiple_of));
    FUZZ_CHECK(got.truncated == single.truncated);
    for (std::size_t k = 0; k < got.size(); ++k) {
      if (k < single.size()) {
        FUZZ_CHECK(got.ids[k] == single.ids[k] && got.type_ids[k] == single.type_ids[k] &&
                   got.attention_mask[k] == single.attention_mask[k] &&
                   got.special_tokens_mask[k] == single.special_tokens_mask[k] &&
                   got.offsets[k] == single.offsets[k]);
      } else {
        FUZZ_CHECK(got.ids[k] == t.pad_id() && got.type_ids[k] == 0 && got.attention_mask[k] == 0 &&
                   got.special_tokens_mask[k] == 1 && got.offsets[k] == Offset{});
      }
    }
  }
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return;
  const std::uint8_t flags = data[0];
  const bool pairs = flags & 1;
  EncodeOptions options;
  options.add_special_tokens = flags & 2;
  constexpr Padding kPaddings[] = {Padding::kNone, Padding::kLongest, Padding::kMaxLength,
                                   Padding::kNone};
  options.padding = kPaddings[(flags >> 2) & 3];
  options.max_length = data[1];
  options.pad_to_multiple_of = data[2] & 7;
  const bool tiny = flags & 16;
  const bool views = flags & 128;

  const Tokenizers& all = tokenizers();
  const Tokenizer& t = tiny ? all.tiny[(flags >> 5) & 3] : all.model;

  // Texts are the 0xFF-separated parts of the rest; pairs take them two at a time.
  const std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  std::vector<std::string_view> parts;
  for (std::size_t begin = 0;;) {
    const std::size_t end = rest.find('\xFF', begin);
    parts.push_back(rest.substr(begin, end == kNpos ? kNpos : end - begin));
    if (end == kNpos) break;
    begin = end + 1;
  }
  std::vector<Item> items;
  for (std::size_t i = 0; i < parts.size() && items.size() < kMaxItems; i += pairs ? 2 : 1) {
    Item item{parts[i], std::nullopt};
    if (pairs) item.b = i + 1 < parts.size() ? parts[i + 1] : std::string_view{};
    items.push_back(item);
  }

  std::vector<Outcome> singles;
  for (const Item& item : items) {
    Outcome outcome = encode_checked(t, item, options);
    if (outcome.ok) {
      const Outcome natural = encode_checked(t, item, {options.add_special_tokens});
      FUZZ_CHECK(natural.ok);
      check_truncation(t, item, options, outcome.encoding, natural.encoding);
      check_decode(t, outcome.encoding);
    }
    if (!tiny) {
      // The two ways of loading the same model must not disagree on anything.
      const Outcome other = encode_checked(all.model_vocab, item, options);
      FUZZ_CHECK(other.ok == outcome.ok);
      if (outcome.ok) FUZZ_CHECK(same_encoding(other.encoding, outcome.encoding));
      if (outcome.ok) {
        FUZZ_CHECK(all.model_vocab.decode(outcome.encoding.ids) == t.decode(outcome.encoding.ids));
      }
    }
    singles.push_back(std::move(outcome));
  }
  check_batch(t, items, singles, options, pairs, views);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
