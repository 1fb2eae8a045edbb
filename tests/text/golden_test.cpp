// tests/text/golden_test.cpp - bertlite's tokenizer against Hugging Face's, on goldens.
//
// tools/make_tokenizer_goldens.py ran Hugging Face `tokenizers` over a fixed corpus (SST-2,
// many scripts, emoji, invisible characters, long words, special tokens, pairs, truncation)
// and wrote tests/data/tokenizer/<category>.inp (the cases) and .out.gz (gzip of the ids, type
// ids, special tokens mask, byte offsets, decoded text; read here with zlib), plus codepoints.tsv
// (what the normalizer and the pre-tokenizer do with every single code point). Every value must
// match exactly; a failure names the first mismatching case with its text. The whole set also runs
// on every thread at once against one shared Tokenizer (as llama.cpp's test-tokenizer-0 does) and
// through the batch API. A missing golden file fails, it is never skipped: regenerate with
//   .venv/bin/python tools/make_tokenizer_goldens.py
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bertlite/tokenizer.h"
#include "test_helpers.h"
#include "text/normalizer.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"
#include "util/file.h"
#include "util/threads.h"

namespace bertlite {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Must list exactly the categories the generator writes (GoldenFiles.EveryCategoryIsChecked).
const std::vector<std::string> kCategories = {
    "sst2",       "accents",           "scripts",        "emoji",      "invisible",
    "long_words", "punctuation",       "special_tokens", "edge_cases", "pairs",
    "truncation", "no_special_tokens", "random_mix",
};

fs::path golden_dir() {
  return fs::path(BERTLITE_TEST_DATA) / "tokenizer";
}

const Tokenizer& minilm() {
  static const Tokenizer tokenizer = Tokenizer::from_folder(test::default_model_folder());
  return tokenizer;
}

// The decompressed contents of a gzip file; throws naming the file when it is missing, not
// gzip, corrupt or truncated (inflate checks the CRC and length in the trailer).
std::string read_gzip(const fs::path& path) {
  const std::string compressed = util::read_file(path);  // throws IoError naming a missing file
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper only, not zlib/raw
    throw std::runtime_error(path.string() + ": inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int status = Z_OK;
  while (status == Z_OK) {
    const std::size_t done = out.size();
    out.resize(done + std::max<std::size_t>(1 << 16, compressed.size() * 4));
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + done);
    stream.avail_out = static_cast<uInt>(out.size() - done);
    status = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
  }
  const bool complete = status == Z_STREAM_END && stream.avail_in == 0;
  const std::string message = stream.msg ? stream.msg : "truncated or trailing data";
  inflateEnd(&stream);
  if (!complete) throw std::runtime_error(path.string() + ": not a valid gzip file: " + message);
  return out;
}

// One line of <category>.inp with the matching line of <category>.out.gz.
struct GoldenCase {
  std::string where;  // "<category>.inp:<line>"
  std::string text;
  std::optional<std::string> pair;
  EncodeOptions options;

  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
  std::vector<std::int32_t> special_tokens_mask;
  std::vector<Offset> offsets;
  std::string decoded;
};

// Lines of a file without their '\n'; the file must end with one.
std::vector<std::string_view> split_lines(std::string_view contents, const fs::path& path) {
  if (!contents.empty() && contents.back() != '\n') {
    throw std::runtime_error(path.string() + ": does not end with a newline");
  }
  std::vector<std::string_view> lines;
  while (!contents.empty()) {
    const std::size_t end = contents.find('\n');
    lines.push_back(contents.substr(0, end));
    contents.remove_prefix(end + 1);
  }
  return lines;
}

// Reads one category; throws (failing the test) when a file is missing or malformed.
std::vector<GoldenCase> load_category(const std::string& category) {
  const fs::path inp_path = golden_dir() / (category + ".inp");
  const fs::path out_path = golden_dir() / (category + ".out.gz");
  const std::string inp = util::read_file(inp_path);  // throws IoError naming a missing file
  const std::string out = read_gzip(out_path);
  const auto inp_lines = split_lines(inp, inp_path);
  const auto out_lines = split_lines(out, out_path);
  if (inp_lines.size() != out_lines.size() || inp_lines.empty()) {
    throw std::runtime_error(category + ": " + std::to_string(inp_lines.size()) + " cases but " +
                             std::to_string(out_lines.size()) + " expected outputs");
  }
  std::vector<GoldenCase> cases(inp_lines.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    GoldenCase& c = cases[i];
    c.where = category + ".inp:" + std::to_string(i + 1);
    try {
      const json in = json::parse(inp_lines[i]);
      c.text = in.at("text").get<std::string>();
      if (in.contains("pair")) c.pair = in.at("pair").get<std::string>();
      c.options.max_length = in.value("max_length", std::size_t{0});
      c.options.add_special_tokens = in.value("add_special_tokens", true);

      const json expected = json::parse(out_lines[i]);
      c.ids = expected.at("ids").get<std::vector<std::int32_t>>();
      c.type_ids = expected.at("type_ids").get<std::vector<std::int32_t>>();
      c.special_tokens_mask = expected.at("special_tokens_mask").get<std::vector<std::int32_t>>();
      for (const auto& o : expected.at("offsets")) {
        c.offsets.push_back({o.at(0).get<std::uint32_t>(), o.at(1).get<std::uint32_t>()});
      }
      c.decoded = expected.at("decoded").get<std::string>();
    } catch (const json::exception& e) {
      throw std::runtime_error(c.where + ": " + e.what());
    }
  }
  return cases;
}

std::vector<GoldenCase> load_all() {
  std::vector<GoldenCase> all;
  for (const auto& category : kCategories) {
    auto cases = load_category(category);
    all.insert(all.end(), std::make_move_iterator(cases.begin()),
               std::make_move_iterator(cases.end()));
  }
  return all;
}

// Quoted, with everything outside printable ASCII escaped (\uXXXX, \UXXXXXXXX), so invisible
// characters show. The goldens are valid UTF-8.
std::string escaped(std::string_view text) {
  std::string out = "\"";
  char buffer[16];
  for (std::size_t pos = 0; pos < text.size();) {
    const char32_t cp = text::decode_utf8(text, pos);
    if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') {
      out.push_back(static_cast<char>(cp));
    } else {
      std::snprintf(buffer, sizeof buffer, cp > 0xFFFF ? "\\U%08X" : "\\u%04X",
                    static_cast<unsigned>(cp));
      out += buffer;
    }
  }
  return out + '"';
}

template <typename T>
std::string join(const std::vector<T>& values) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) s << ',';
    if constexpr (std::is_same_v<T, Offset>) {
      s << '(' << values[i].begin << ',' << values[i].end << ')';
    } else {
      s << values[i];
    }
  }
  return s.str() + ']';
}

std::string describe(const GoldenCase& c) {
  std::string s = c.where + ": text " + escaped(c.text);
  if (c.pair) s += " pair " + escaped(*c.pair);
  if (c.options.max_length) s += " max_length " + std::to_string(c.options.max_length);
  if (!c.options.add_special_tokens) s += " add_special_tokens false";
  return s;
}

template <typename T>
std::string compare_field(const char* name, const std::vector<T>& expected,
                          const std::vector<T>& actual) {
  if (expected == actual) return {};
  return std::string("\n  ") + name + " differ\n    HF:       " + join(expected) +
         "\n    bertlite: " + join(actual);
}

// Empty when `e` (and decoding the expected ids) matches the golden, else what differs.
std::string check(const Tokenizer& tokenizer, const GoldenCase& c, const Encoding& e) {
  std::string diff = compare_field("ids", c.ids, e.ids);
  if (!diff.empty()) {
    diff.append("\n    HF tokens:       ").append(join(tokenizer.tokens(c.ids)));
    diff.append("\n    bertlite tokens: ").append(join(tokenizer.tokens(e.ids)));
  }
  diff += compare_field("type_ids", c.type_ids, e.type_ids);
  diff += compare_field("special_tokens_mask", c.special_tokens_mask, e.special_tokens_mask);
  diff += compare_field("offsets", c.offsets, e.offsets);
  if (e.attention_mask.size() != e.ids.size() ||
      std::any_of(e.attention_mask.begin(), e.attention_mask.end(), [](int m) { return m != 1; })) {
    diff += "\n  attention_mask is not all 1 without padding: " + join(e.attention_mask);
  }
  // Decode the expected ids, so the decoder is checked even when encoding differs.
  const std::string decoded = tokenizer.decode(c.ids, /*skip_special_tokens=*/true);
  if (decoded != c.decoded) {
    diff += "\n  decoded differs\n    HF:       " + escaped(c.decoded) +
            "\n    bertlite: " + escaped(decoded);
  }
  return diff.empty() ? diff : describe(c) + diff;
}

Encoding encode(const Tokenizer& tokenizer, const GoldenCase& c) {
  return c.pair ? tokenizer.encode(c.text, *c.pair, c.options)
                : tokenizer.encode(c.text, c.options);
}

// Runs every case; returns the number of mismatches and the first one's description.
std::pair<std::size_t, std::string> run_cases(const Tokenizer& tokenizer,
                                              const std::vector<GoldenCase>& cases) {
  std::size_t mismatches = 0;
  std::string first;
  for (const GoldenCase& c : cases) {
    std::string diff;
    try {
      diff = check(tokenizer, c, encode(tokenizer, c));
    } catch (const std::exception& error) {
      diff = describe(c) + "\n  threw: " + error.what();
    }
    if (!diff.empty() && mismatches++ == 0) first = diff;
  }
  return {mismatches, first};
}

// ---------------------------------------------------------------------------------------------
// The golden cases.
// ---------------------------------------------------------------------------------------------

class GoldenCategory : public testing::TestWithParam<std::string> {};

TEST_P(GoldenCategory, MatchesHuggingFace) {
  const std::vector<GoldenCase> cases = load_category(GetParam());
  const auto [mismatches, first] = run_cases(minilm(), cases);
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << cases.size()
                            << " cases differ from Hugging Face; the first:\n"
                            << first;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenCategory, testing::ValuesIn(kCategories),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(GoldenGeneralPath, EveryCaseMatchesWithTheFusedAsciiPassOff) {
  // The general path is the reference the fused ASCII pass must match; it must match Hugging
  // Face on its own too (text::set_general_path_only routes every text through it).
  const std::vector<GoldenCase> cases = load_all();
  text::set_general_path_only(true);
  const auto [mismatches, first] = run_cases(minilm(), cases);
  text::set_general_path_only(false);
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << cases.size()
                            << " cases differ from Hugging Face on the general path; the first:\n"
                            << first;
}

TEST(GoldenFiles, EveryCategoryIsChecked) {
  // A category the generator writes but this test does not list would go unchecked.
  std::set<std::string> on_disk;
  ASSERT_TRUE(fs::is_directory(golden_dir())) << golden_dir() << " is missing";
  for (const auto& entry : fs::directory_iterator(golden_dir())) {
    if (entry.path().extension() == ".inp") on_disk.insert(entry.path().stem().string());
  }
  EXPECT_EQ(on_disk, std::set<std::string>(kCategories.begin(), kCategories.end()));
}

TEST(GoldenThreads, EveryThreadRunsTheWholeSetAtOnce) {
  // One shared Tokenizer, every thread tokenizing every case concurrently: per-thread scratch
  // buffers or lazily built tables that race would show up as mismatches here.
  const std::vector<GoldenCase> cases = load_all();
  const Tokenizer& tokenizer = minilm();
  const int n_threads = std::max(2, util::available_cores());
  std::vector<std::pair<std::size_t, std::string>> results(n_threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&, t] { results[t] = run_cases(tokenizer, cases); });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < n_threads; ++t) {
    EXPECT_EQ(results[t].first, 0u)
        << "thread " << t << " of " << n_threads << ": " << results[t].first << " of "
        << cases.size() << " cases differ; the first:\n"
        << results[t].second;
  }
}

TEST(GoldenBatch, EncodeBatchMatchesCaseByCase) {
  // Cases grouped by (one text or a pair, options), each group through one batch call on all
  // cores, so batching must neither reorder nor mix up per-text state.
  const std::vector<GoldenCase> cases = load_all();
  const Tokenizer& tokenizer = minilm();
  std::map<std::tuple<bool, bool, std::size_t>, std::vector<const GoldenCase*>> groups;
  for (const GoldenCase& c : cases) {
    groups[{c.pair.has_value(), c.options.add_special_tokens, c.options.max_length}].push_back(&c);
  }
  std::size_t mismatches = 0;
  std::string first;
  for (const auto& [key, members] : groups) {
    const EncodeOptions& options = members.front()->options;
    std::vector<Encoding> batch;
    if (std::get<0>(key)) {
      std::vector<std::pair<std::string, std::string>> pairs;
      for (const GoldenCase* c : members) pairs.emplace_back(c->text, *c->pair);
      batch = tokenizer.encode_pair_batch(pairs, options, /*threads=*/0);
    } else {
      std::vector<std::string> texts;
      for (const GoldenCase* c : members) texts.push_back(c->text);
      batch = tokenizer.encode_batch(texts, options, /*threads=*/0);
    }
    ASSERT_EQ(batch.size(), members.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
      const std::string diff = check(tokenizer, *members[i], batch[i]);
      if (!diff.empty() && mismatches++ == 0) first = diff;
    }
  }
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << cases.size()
                            << " batched cases differ from Hugging Face; the first:\n"
                            << first;
}

// ---------------------------------------------------------------------------------------------
// Every code point.
// ---------------------------------------------------------------------------------------------

constexpr char32_t kCodePoints = 0x110000;

bool is_surrogate(char32_t cp) {
  return cp >= 0xD800 && cp <= 0xDFFF;
}

// An N line of codepoints.tsv: each output item is a code point, or cp + delta when relative.
struct NormalizerRun {
  char32_t first, last;
  std::vector<std::pair<bool, std::int64_t>> items;  // (relative, value)
};

enum class Class : std::uint8_t { kWord, kWhitespace, kPunctuation };

struct CodePointTable {
  std::vector<NormalizerRun> runs;  // ascending, disjoint
  std::vector<Class> classes;       // [kCodePoints]
};

char32_t parse_hex(const std::string& field, const std::string& where) {
  std::size_t used = 0;
  const unsigned long value = std::stoul(field, &used, 16);
  if (used != field.size() || value >= kCodePoints) {
    throw std::runtime_error(where + ": bad code point '" + field + "'");
  }
  return static_cast<char32_t>(value);
}

CodePointTable load_code_points() {
  const fs::path path = golden_dir() / "codepoints.tsv";
  const std::string contents = util::read_file(path);
  CodePointTable table;
  table.classes.assign(kCodePoints, Class::kWord);
  std::size_t line_number = 0;
  for (std::string_view line : split_lines(contents, path)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path.filename().string() + ":" + std::to_string(line_number);
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string_view::npos;
         start = tab + 1) {
      fields.emplace_back(line.substr(start, tab - start));
    }
    fields.emplace_back(line.substr(start));
    if (fields.size() < 3) throw std::runtime_error(where + ": too few fields");
    const char32_t first = parse_hex(fields[1], where), last = parse_hex(fields[2], where);
    if (last < first) throw std::runtime_error(where + ": range ends before it starts");
    if (fields[0] == "N" && fields.size() == 4) {
      if (!table.runs.empty() && first <= table.runs.back().last) {
        throw std::runtime_error(where + ": N lines out of order");
      }
      NormalizerRun run{first, last, {}};
      std::istringstream items(fields[3]);
      for (std::string item; items >> item;) {
        if (item[0] == '+' || item[0] == '-') {
          run.items.emplace_back(true, std::stoll(item));
        } else {
          run.items.emplace_back(false, parse_hex(item, where));
        }
      }
      table.runs.push_back(std::move(run));
    } else if ((fields[0] == "W" || fields[0] == "P") && fields.size() == 3) {
      const Class cls = fields[0] == "W" ? Class::kWhitespace : Class::kPunctuation;
      for (char32_t cp = first; cp <= last; ++cp) table.classes[cp] = cls;
    } else {
      throw std::runtime_error(where + ": unknown line");
    }
  }
  return table;
}

std::string utf8(char32_t cp) {
  std::string s;
  text::append_utf8(cp, s);
  return s;
}

std::string hex(std::string_view utf8_text) {
  std::ostringstream s;
  std::size_t pos = 0;
  s << '[';
  while (pos < utf8_text.size()) {
    if (pos) s << ' ';
    s << std::hex << std::uppercase
      << static_cast<std::uint32_t>(text::decode_utf8(utf8_text, pos));
  }
  return s.str() + ']';
}

// Collects up to a few mismatch descriptions plus a total.
struct Mismatches {
  std::size_t count = 0;
  std::string first_few;
  void add(const std::string& what) {
    if (count++ < 25) first_few += "\n  " + what;
  }
};

TEST(GoldenCodePoints, NormalizerMatchesHuggingFaceOnEveryCodePoint) {
  const CodePointTable table = load_code_points();
  ASSERT_GT(table.runs.size(), 1000u) << "codepoints.tsv has too few N lines to be complete";
  // The tokenizer.json's BertNormalizer: strip_accents null follows lowercase (true).
  const TokenizerInfo& info = minilm().info();
  ASSERT_TRUE(info.clean_text && info.handle_chinese_chars && info.strip_accents && info.lowercase);
  const text::Normalizer normalizer(text::NormalizerOptions{
      .clean_text = true, .handle_chinese_chars = true, .strip_accents = true, .lowercase = true});

  Mismatches mismatches;
  std::size_t run = 0;
  std::string expected;
  text::NormalizedText actual;
  for (char32_t cp = 0; cp < kCodePoints; ++cp) {
    if (is_surrogate(cp)) continue;
    while (run < table.runs.size() && table.runs[run].last < cp) ++run;
    expected.clear();
    if (run < table.runs.size() && table.runs[run].first <= cp) {
      for (const auto& [relative, value] : table.runs[run].items) {
        text::append_utf8(static_cast<char32_t>(relative ? cp + value : value), expected);
      }
    } else {
      text::append_utf8(cp, expected);
    }
    const std::string input = utf8(cp);
    actual.clear();
    normalizer.normalize(input, 0, actual);
    if (actual.text != expected) {
      std::ostringstream what;
      what << "U+" << std::hex << std::uppercase << static_cast<std::uint32_t>(cp) << ": HF "
           << hex(expected) << ", bertlite " << hex(actual.text);
      mismatches.add(what.str());
    }
  }
  EXPECT_EQ(mismatches.count, 0u) << mismatches.count
                                  << " code points normalize differently; the first:"
                                  << mismatches.first_few;
}

TEST(GoldenCodePoints, PreTokenizerClassesMatchHuggingFaceOnEveryCodePoint) {
  const CodePointTable table = load_code_points();
  const auto whitespace =
      std::count(table.classes.begin(), table.classes.end(), Class::kWhitespace);
  ASSERT_GT(whitespace, 10) << "codepoints.tsv has too few W lines to be complete";
  Mismatches mismatches;
  std::vector<text::Span> words;
  for (char32_t cp = 0; cp < kCodePoints; ++cp) {
    if (is_surrogate(cp)) continue;
    const Class expected = table.classes[cp];
    // The predicates, and the pre-tokenizer itself on "a<cp>a": whitespace splits and is
    // removed, punctuation is a word of its own, anything else joins the a's into one word.
    const bool space = text::is_whitespace(cp), punct = text::is_punctuation(cp);
    std::string a_cp_a = "a";
    text::append_utf8(cp, a_cp_a);
    a_cp_a.push_back('a');
    words.clear();
    text::pre_tokenize(a_cp_a, words);
    const std::size_t expected_words = expected == Class::kWhitespace    ? 2
                                       : expected == Class::kPunctuation ? 3
                                                                         : 1;
    if (space != (expected == Class::kWhitespace) || punct != (expected == Class::kPunctuation) ||
        words.size() != expected_words) {
      static constexpr const char* kNames[] = {"word", "whitespace", "punctuation"};
      std::ostringstream what;
      what << "U+" << std::hex << std::uppercase << static_cast<std::uint32_t>(cp) << std::dec
           << ": HF " << kNames[static_cast<int>(expected)] << ", bertlite is_whitespace " << space
           << " is_punctuation " << punct << " pre_tokenize(\"a?a\") gives " << words.size()
           << " words";
      mismatches.add(what.str());
    }
  }
  EXPECT_EQ(mismatches.count, 0u) << mismatches.count
                                  << " code points are classed differently; the first:"
                                  << mismatches.first_few;
}

}  // namespace
}  // namespace bertlite
