// io/treebank.h: SST's PTB trees as SST-2 / SST-5 sentences and phrases, the text rules, errors
// that name the line, and the real data/sst files against data/sst2's TSVs.
#include "io/treebank.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bertlite/error.h"
#include "io/dataset.h"
#include "test_support.h"

namespace bertlite::io {
namespace {

namespace fs = std::filesystem;
using Pairs = std::vector<std::pair<std::string, int>>;

Pairs pairs(const std::vector<TreebankExample>& examples) {
  Pairs out;
  for (const auto& e : examples) out.emplace_back(e.text, e.label);
  return out;
}

fs::path write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Two sentences (positive, negative), a neutral one, and a one-word tree.
constexpr const char* kTrees =
    "(3 (2 (2 The) (2 film)) (4 (3 is) (4 great)))\n"
    "(1 (2 The) (1 (1 film) (2 (0 bores) (2 .))))\r\n"
    "\n"
    "(2 (2 It) (2 exists))\n"
    "(4 Wonderful)\n";

TEST(Treebank, Sst2Sentences) {
  test::TempDir dir;
  const fs::path file = write(dir, "train.txt", kTrees);
  EXPECT_EQ(pairs(read_treebank(file, {})),
            (Pairs{{"The film is great", 1}, {"The film bores .", 0}, {"Wonderful", 1}}));
}

TEST(Treebank, Sst5SentencesKeepEveryLabel) {
  test::TempDir dir;
  const fs::path file = write(dir, "train.txt", kTrees);
  EXPECT_EQ(
      pairs(read_treebank(file, {.task = TreebankTask::kSst5})),
      (Pairs{
          {"The film is great", 3}, {"The film bores .", 1}, {"It exists", 2}, {"Wonderful", 4}}));
}

TEST(Treebank, PhrasesAreDistinctInOrderOfFirstOccurrence) {
  test::TempDir dir;
  const fs::path file = write(dir, "train.txt", kTrees);
  // Pre-order (each node before its children); "The", "film" (neutral) are dropped for SST-2,
  // and the second tree's "film" (1) is new, while its "The" is neutral anyway.
  EXPECT_EQ(pairs(read_treebank(file, {.phrases = true})), (Pairs{{"The film is great", 1},
                                                                  {"is great", 1},
                                                                  {"is", 1},
                                                                  {"great", 1},
                                                                  {"The film bores .", 0},
                                                                  {"film bores .", 0},
                                                                  {"film", 0},
                                                                  {"bores", 0},
                                                                  {"Wonderful", 1}}));
  // SST-5 keeps neutral phrases; "The" and "film" first appear as 2, so the later "(1 film)"
  // is a repeat: the first occurrence's label wins.
  const Pairs sst5 = pairs(read_treebank(file, {.task = TreebankTask::kSst5, .phrases = true}));
  EXPECT_EQ(sst5, (Pairs{{"The film is great", 3},
                         {"The film", 2},
                         {"The", 2},
                         {"film", 2},
                         {"is great", 4},
                         {"is", 3},
                         {"great", 4},
                         {"The film bores .", 1},
                         {"film bores .", 1},
                         {"bores .", 2},
                         {"bores", 0},
                         {".", 2},
                         {"It exists", 2},
                         {"It", 2},
                         {"exists", 2},
                         {"Wonderful", 4}}));
}

TEST(Treebank, EscapesAreUndone) {
  const std::string tree =
      "(3 (2 -LRB-) (3 (2 co-writer\\/director) (2 (2 -RRB-) (3 (2 ``) (3 (3 A\\*) (2 (2 '') "
      "(2 (2 -LSB-) (2 (2 -RSB-) (2 (2 -LCB-) (2 (2 -RCB-) (2 (2 8 1\\/2) (2 élan))))))))))))\n";
  EXPECT_EQ(parse_treebank(tree, "t.txt").at(0).text,
            "( co-writer/director ) `` A* '' [ ] { } 8 1/2 élan");
  // data/sst2's rule: raw tokens, only A-Za-z0-9(),!?'` kept, lower-cased.
  EXPECT_EQ(parse_treebank(tree, "t.txt", {.text = TreebankText::kSst2Tsv}).at(0).text,
            "lrb co writer director rrb `` a '' lsb rsb lcb rcb 8 1 2 lan");
  // Spaces inside a leaf and between nodes are not significant.
  EXPECT_EQ(parse_treebank("  (4 (4  so   good )(2 . ))  \n", "t.txt").at(0).text, "so good .");
}

TEST(Treebank, Sst2TsvTextMergesPhrasesAndDropsEmptyOnes) {
  const std::string tree = "(3 (3 (3 Good) (2 --)) (2 (2 good) (2 .)))\n";
  EXPECT_EQ(pairs(parse_treebank(
                tree, "t.txt",
                {.task = TreebankTask::kSst5, .phrases = true, .text = TreebankText::kSst2Tsv})),
            (Pairs{{"good good", 3}, {"good", 3}}));
}

TEST(Treebank, LabelNames) {
  EXPECT_EQ(treebank_label_names(TreebankTask::kSst2),
            (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(treebank_label_names(TreebankTask::kSst5),
            (std::vector<std::string>{"very negative", "negative", "neutral", "positive",
                                      "very positive"}));
}

TEST(Treebank, MalformedTreesNameTheLine) {
  const auto message = [](const std::string& text) -> std::string {
    try {
      parse_treebank(text, "bad.txt");
    } catch (const ParseError& e) {
      return e.what();
    }
    return "did not throw";
  };
  const std::string ok = "(3 (2 a) (3 b))\n\n";  // lines 1-2; the error is on line 3
  EXPECT_EQ(message(ok + "(3 (2 a) (3 b)\n"),
            "bad.txt:3: unbalanced parentheses: 1 node not closed at the end of the line");
  EXPECT_EQ(message(ok + "(3 (2 a) (3 b\n"),
            "bad.txt:3: unbalanced parentheses: 2 nodes not closed at the end of the line");
  EXPECT_EQ(message(ok + "(3 (2 a) (3 b)))\n"),
            "bad.txt:3: unbalanced parentheses: ')' at column 16 closes nothing");
  EXPECT_EQ(message(ok + "(3 (2 a) (7 b))\n"), "bad.txt:3: label 7 at column 11 is not 0-4");
  EXPECT_EQ(message(ok + "(3 (2 a) (12 b))\n"), "bad.txt:3: label 12 at column 11 is not 0-4");
  EXPECT_EQ(message(ok + "(3 (-1 a) (3 b))\n"),
            "bad.txt:3: expected a label 0-4 at column 5, found '-'");
  EXPECT_EQ(message(ok + "(3x (2 a))\n"),
            "bad.txt:3: expected a space after the label at column 3, found 'x'");
  EXPECT_EQ(message(ok + "(3 (2 a) (3 ))\n"),
            "bad.txt:3: a node with no word or subtree at column 13");
  EXPECT_EQ(message(ok + "(3 (2 a (3 b)))\n"),
            "bad.txt:3: a leaf's words are followed by '(' at column 9");
  EXPECT_EQ(message(ok + "(3 (2 a) b)\n"),
            "bad.txt:3: expected '(' or ')' at column 10, found 'b'");
  EXPECT_EQ(message(ok + "(3 (2 a) (3 b)) (2 c)\n"), "bad.txt:3: text after the tree at column 17");
  EXPECT_EQ(message(ok + "a good film\t1\n"), "bad.txt:3: expected '(' at column 1, found 'a'");
  EXPECT_EQ(message(ok + "(2 caf\xC3)\n"), "bad.txt:3: invalid UTF-8 at byte 23 of the file");
  // A file that is not there is an IoError, not a ParseError.
  EXPECT_THROW(read_treebank("/nonexistent/sst/train.txt"), IoError);
}

TEST(Treebank, LooksLikeTreebank) {
  test::TempDir dir;
  EXPECT_TRUE(looks_like_treebank(write(dir, "a.txt", kTrees)));
  EXPECT_TRUE(looks_like_treebank(write(dir, "b.txt", "\xEF\xBB\xBF\n  \r\n (3 (2 a) (3 b))\n")));
  EXPECT_FALSE(looks_like_treebank(write(dir, "c.tsv", "a good film\t1\n")));
  EXPECT_FALSE(looks_like_treebank(write(dir, "d.txt", "(a good film)\n")));
  EXPECT_FALSE(looks_like_treebank(write(dir, "e.txt", "   \n")));
  EXPECT_FALSE(looks_like_treebank(write(dir, "f.txt", "(")));
  EXPECT_FALSE(looks_like_treebank(dir / "missing.txt"));
}

// The committed treebank against the committed SST-2 TSVs (shuffled, so compared as sorted
// lists): same sentences and labels once data/sst2's text rule is applied.
TEST(Treebank, RealSst2SentencesEqualTheTsvs) {
  const fs::path root(BERTLITE_SOURCE_DIR);
  for (const auto& [split, rows] : {std::pair<std::string, std::size_t>{"train", 6920},
                                    std::pair<std::string, std::size_t>{"dev", 872}}) {
    SCOPED_TRACE(split);
    const fs::path trees = root / "data" / "sst" / (split + ".txt");
    ASSERT_TRUE(looks_like_treebank(trees));
    Pairs from_trees = pairs(read_treebank(trees, {.text = TreebankText::kSst2Tsv}));
    const Table tsv = read_table(root / "data" / "sst2" / (split + ".tsv"));
    const auto texts = column(tsv, "0");
    const auto labels = column(tsv, "1");
    Pairs from_tsv;
    for (std::size_t i = 0; i < texts.size(); ++i)
      from_tsv.emplace_back(texts[i], std::stoi(labels[i]));
    ASSERT_EQ(from_trees.size(), rows);
    ASSERT_EQ(from_tsv.size(), rows);
    EXPECT_NE(from_trees, from_tsv);  // the TSVs are shuffled
    std::sort(from_trees.begin(), from_trees.end());
    std::sort(from_tsv.begin(), from_tsv.end());
    EXPECT_EQ(from_trees, from_tsv);
    // The plain text rule picks the same sentences in the same order; only the text differs.
    const auto plain = read_treebank(trees);
    const auto cleaned = read_treebank(trees, {.text = TreebankText::kSst2Tsv});
    ASSERT_EQ(plain.size(), rows);
    for (std::size_t i = 0; i < rows; ++i) EXPECT_EQ(plain[i].label, cleaned[i].label);
  }
}

TEST(Treebank, RealFileCounts) {
  const fs::path train = fs::path(BERTLITE_SOURCE_DIR) / "data" / "sst" / "train.txt";
  const fs::path dev = fs::path(BERTLITE_SOURCE_DIR) / "data" / "sst" / "dev.txt";
  const auto count = [](const std::vector<TreebankExample>& examples, int label) {
    return std::count_if(examples.begin(), examples.end(),
                         [&](const TreebankExample& e) { return e.label == label; });
  };
  const auto sentences = read_treebank(train);
  EXPECT_EQ(
      sentences.front().text,
      "The Rock is destined to be the 21st Century 's new `` Conan '' and that he 's going to "
      "make a splash even greater than Arnold Schwarzenegger , Jean-Claud Van Damme or "
      "Steven Segal .");
  EXPECT_EQ(count(sentences, 0), 3310);
  EXPECT_EQ(count(sentences, 1), 3610);
  const auto dev_sentences = read_treebank(dev);
  EXPECT_EQ(count(dev_sentences, 0), 428);
  EXPECT_EQ(count(dev_sentences, 1), 444);

  const auto sst5 = read_treebank(train, {.task = TreebankTask::kSst5});
  ASSERT_EQ(sst5.size(), 8544u);  // the README's 1092 / 2218 / 1624 / 2322 / 1288
  const std::vector<long> per_label{1092, 2218, 1624, 2322, 1288};
  for (int label = 0; label < 5; ++label) EXPECT_EQ(count(sst5, label), per_label[label]);
  EXPECT_EQ(read_treebank(dev, {.task = TreebankTask::kSst5}).size(), 1101u);

  // GLUE's protocol on these trees: 77,616 distinct non-neutral phrases (GLUE ships 67,349;
  // io/treebank.h notes what the difference is not).
  const auto phrases = read_treebank(train, {.phrases = true});
  EXPECT_EQ(phrases.size(), 77616u);
  EXPECT_EQ(count(phrases, 0), 34944);
  EXPECT_EQ(count(phrases, 1), 42672);
  EXPECT_EQ(phrases.front().text, sentences.front().text);  // the root comes first
  std::set<std::string> distinct;
  for (const auto& p : phrases) distinct.insert(p.text);
  EXPECT_EQ(distinct.size(), phrases.size());
  EXPECT_EQ(read_treebank(train, {.task = TreebankTask::kSst5, .phrases = true}).size(), 159274u);
  EXPECT_EQ(read_treebank(train, {.phrases = true, .text = TreebankText::kSst2Tsv}).size(), 71507u);
}

}  // namespace
}  // namespace bertlite::io
