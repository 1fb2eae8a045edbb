// fuzz/treebank_fuzz.cpp - fuzz target: arbitrary bytes as a Stanford Sentiment Treebank file
// (data/sst/train.txt: one PTB tree per line), the reader behind `bertlite finetune --train
// data/sst/train.txt [--phrases] [--task sst5]`.
//
// Input: byte 0 picks the options (bit 0: SST-5 rather than SST-2; bit 1: every phrase rather
// than the root sentences; bit 2: data/sst2's text rule rather than the plain one), the rest
// is the file's text.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - parse_treebank returns or throws a bertlite::Error with a message; no other exception
//     escapes, nothing crashes, hangs or trips a sanitizer;
//   - invalid UTF-8 is always an Error; every example's text is valid UTF-8 and its label is
//     one of the task's (0-1 or 0-4);
//   - phrases are distinct and never empty; under the data/sst2 rule a text holds only
//     a-z 0-9 ( ) , ! ? ' ` and single inner spaces; under the plain rule a sentence holds no
//     more bytes than its line;
//   - the same text read for SST-5 sentences gives exactly one example per non-blank line,
//     and SST-2 sentences are the ones whose root is not neutral, in order;
//   - a text that parses with at least one tree is recognised by looks_like_treebank, and
//     read_treebank on the same bytes in a file gives the same examples.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/treebank.h"

namespace bertlite::fuzz {
namespace {

bool same_examples(const std::vector<io::TreebankExample>& a,
                   const std::vector<io::TreebankExample>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.text == y.text && x.label == y.label;
  });
}

bool sst2_tsv_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '(' || c == ')' || c == ',' ||
         c == '!' || c == '?' || c == '\'' || c == '`' || c == ' ';
}

// The lines parse_treebank reads as trees: not empty and not only spaces and tabs, once a
// final '\r' is dropped.
std::vector<std::string_view> tree_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back(line);
  }
  return lines;
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  io::TreebankOptions options;
  options.task = (data[0] & 1) ? io::TreebankTask::kSst5 : io::TreebankTask::kSst2;
  options.phrases = (data[0] & 2) != 0;
  options.text = (data[0] & 4) ? io::TreebankText::kSst2Tsv : io::TreebankText::kPlain;

  std::vector<io::TreebankExample> examples;
  try {
    examples = io::parse_treebank(text, "fuzz.txt", options);
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.txt:"));  // and where
    return;
  }
  trace("parsed", std::to_string(examples.size()) + " examples");
  FUZZ_CHECK(first_invalid_utf8(text) == std::string_view::npos);
  const int labels = options.task == io::TreebankTask::kSst5 ? 5 : 2;
  FUZZ_CHECK(io::treebank_label_names(options.task).size() == static_cast<std::size_t>(labels));
  std::unordered_set<std::string> seen;
  for (const io::TreebankExample& example : examples) {
    FUZZ_CHECK(example.label >= 0 && example.label < labels);
    FUZZ_CHECK(first_invalid_utf8(example.text) == std::string_view::npos);
    if (options.phrases) {
      FUZZ_CHECK(!example.text.empty());
      FUZZ_CHECK(seen.insert(example.text).second);
    }
    if (options.text == io::TreebankText::kSst2Tsv) {
      FUZZ_CHECK(std::all_of(example.text.begin(), example.text.end(), sst2_tsv_character));
      FUZZ_CHECK(example.text.empty() ||
                 (example.text.front() != ' ' && example.text.back() != ' '));
      FUZZ_CHECK(example.text.find("  ") == std::string::npos);
    }
  }

  // Sentences of every task agree with the lines; SST-2 keeps the non-neutral roots.
  const std::vector<std::string_view> lines = tree_lines(text);
  io::TreebankOptions sentences = options;
  sentences.phrases = false;
  sentences.task = io::TreebankTask::kSst5;
  const auto roots = io::parse_treebank(text, "fuzz.txt", sentences);
  FUZZ_CHECK(roots.size() == lines.size());
  for (std::size_t i = 0; i < roots.size(); ++i) {
    if (options.text == io::TreebankText::kPlain)
      FUZZ_CHECK(roots[i].text.size() <= lines[i].size());
  }
  sentences.task = io::TreebankTask::kSst2;
  const auto sst2 = io::parse_treebank(text, "fuzz.txt", sentences);
  std::vector<io::TreebankExample> expected;
  for (const io::TreebankExample& root : roots) {
    if (root.label != 2) expected.push_back({root.text, root.label < 2 ? 0 : 1});
  }
  FUZZ_CHECK(same_examples(sst2, expected));
  if (!options.phrases) {
    FUZZ_CHECK(same_examples(examples, options.task == io::TreebankTask::kSst5 ? roots : sst2));
  }

  // The file reader and the sniffer `finetune --train` uses agree with the text reader.
  const auto path = write_scratch_file("train.txt", text);
  FUZZ_CHECK(same_examples(io::read_treebank(path, options), examples));
  if (!lines.empty()) FUZZ_CHECK(io::looks_like_treebank(path));
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
