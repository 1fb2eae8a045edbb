// io/treebank.h - the Stanford Sentiment Treebank's PTB trees (data/sst/train.txt, dev.txt) as
// labelled texts for fine-tuning: SST-2 or SST-5, whole sentences or every phrase.
//
// One tree per line, every node labelled 0 (very negative) to 4 (very positive):
//   (3 (2 (2 The) (2 Rock)) (4 (3 (2 is) ...)) (2 .)))
// Blank lines are skipped. Anything else malformed (unbalanced parentheses, a label that is not
// 0-4, a node with neither word nor child, text after the tree) throws ParseError
// "train.txt:12: ..." naming the line (and the column). Text must be valid UTF-8.
//
// The text of a node is its leaves, left to right, joined by single spaces. Two text rules:
// - kPlain (the default): the treebank's tokens with the PTB escapes undone: -LRB- -RRB- -LSB-
//   -RSB- -LCB- -RCB- become ( ) [ ] { }, and \/ and \* become / and *. Case is kept. Quotes
//   stay the treebank's `` '' ` ' tokens (they are tokens, not escapes; data/sst2 keeps them
//   too).
// - kSst2Tsv: the text of data/sst2/*.tsv (clairett/pytorch-sentiment-classification, which
//   applied Kim (2014)'s clean_str_sst to the raw tokens, escapes and all): every byte other
//   than A-Z a-z 0-9 ( ) , ! ? ' ` becomes a space, runs of spaces become one, the ends are
//   trimmed and ASCII is lower-cased. So -LRB- becomes "lrb", "Jean-Claud" "jean claud",
//   "J.R.R." "j r r", "élan" "lan", and the final " ." disappears. With it, the non-neutral
//   sentences of train.txt / dev.txt are exactly the rows of data/sst2/train.tsv (6,920) and
//   dev.tsv (872), texts and labels, as multisets: the TSVs are shuffled, the trees are in the
//   treebank's order (tests/io/treebank_test.cpp checks both).
//
// Phrases (options.phrases): every node of every tree, the GLUE SST-2 training protocol. Each
// distinct text (after the text rule) is kept once, with the label of its first occurrence
// (among the nodes the task keeps: for SST-2, neutral nodes are dropped first), in order of
// first occurrence. In the SST files the same phrase text never carries two labels, so "first"
// only matters for other files or for kSst2Tsv, which can merge texts ("film ." and "film").
// Nodes whose text is empty under kSst2Tsv ("--", "...") are dropped.
// Sentences (the default) are the root nodes, in file order, duplicates kept (train.txt has
// 6,920 non-neutral sentences of which 6,911 distinct; data/sst2/train.tsv keeps the 9 repeats).
//
// Counts measured on data/sst/train.txt (8,544 trees, 318,582 nodes), kPlain:
//   SST-2 sentences 6,920 (3,310 negative / 3,610 positive); dev.txt 872 (428 / 444).
//   SST-2 phrases 77,616 (34,944 / 42,672); SST-5 phrases 159,274. With kSst2Tsv, SST-2
//   phrases merge to 71,507 (123 later occurrences of a merged text disagree in label and
//   lose to the first).
// GLUE's SST-2 train has 67,349 phrases. The difference is not explained by case (lower-cased,
// 76,961 distinct), nor by dropping phrases that also occur in dev.txt (1,555 of them), nor by
// single words (4,712): GLUE kept a subset of the phrases and did not document which
// (nyu-mll/GLUE-baselines issue 22 asks and is unanswered).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::io {

enum class TreebankTask {
  kSst2,  // binary: 0,1 -> 0 (negative), 3,4 -> 1 (positive), neutral 2 dropped
  kSst5,  // the five labels as they are, 0..4
};

enum class TreebankText {
  kPlain,    // the tokens, PTB escapes undone, case kept
  kSst2Tsv,  // as in data/sst2/*.tsv: lower-cased, punctuation other than ( ) , ! ? ' ` removed
};

struct TreebankOptions {
  TreebankTask task = TreebankTask::kSst2;
  bool phrases = false;  // every distinct phrase rather than the root sentences
  TreebankText text = TreebankText::kPlain;
};

struct TreebankExample {
  std::string text;
  int label;  // in the task's labels: 0..1 for SST-2, 0..4 for SST-5
};

std::vector<TreebankExample> read_treebank(const std::filesystem::path& file,
                                           const TreebankOptions& options = {});
// Same, from text already in memory; `source` names it in messages.
std::vector<TreebankExample> parse_treebank(std::string_view text, const std::string& source,
                                            const TreebankOptions& options = {});

// The task's label names, indexed by label: SST-2 {"negative", "positive"}; SST-5
// {"very negative", "negative", "neutral", "positive", "very positive"}.
std::vector<std::string> treebank_label_names(TreebankTask task);

// Whether the file starts like a treebank: its first non-space character is '(' followed by a
// digit (a UTF-8 byte order mark is skipped). False for a file that cannot be read.
bool looks_like_treebank(const std::filesystem::path& file);

}  // namespace bertlite::io
