// Stage tests for text/wordpiece.h and text/vocab.h.
#include "text/wordpiece.h"

#include <gtest/gtest.h>

#include "bertlite/error.h"

namespace bertlite::text {
namespace {

std::shared_ptr<const Vocab> make_vocab(std::vector<std::string> tokens) {
  return std::make_shared<const Vocab>(std::move(tokens));
}

std::vector<std::string> pieces(const WordPiece& model, const std::string& word) {
  std::vector<Piece> out;
  model.tokenize(word, out);
  std::vector<std::string> tokens;
  for (const auto& p : out) tokens.emplace_back(model.vocab().token(p.id));
  return tokens;
}

TEST(Vocab, LoadsLinesAsIds) {
  const Vocab vocab = Vocab::from_text("[PAD]\n[UNK]\nhello\r\n##lo \n");
  EXPECT_EQ(vocab.size(), 4u);
  EXPECT_EQ(vocab.find("hello"), 2);
  EXPECT_EQ(vocab.find("##lo"), 3);
  EXPECT_EQ(vocab.find("nope"), -1);
  EXPECT_EQ(vocab.token(1), "[UNK]");
  EXPECT_EQ(vocab.token(99), "");
}

TEST(Vocab, RepeatedTokenKeepsTheLastId) {
  const Vocab vocab = Vocab::from_text("a\nb\na\n");
  EXPECT_EQ(vocab.find("a"), 2);
}

TEST(Vocab, InvalidUtf8NamesTheLine) {
  try {
    Vocab::from_text("ok\nbad\xFF\n", "vocab.txt");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "vocab.txt:2: invalid UTF-8 at byte 3");
  }
  EXPECT_THROW(Vocab::from_text(""), ParseError);
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  const WordPiece model(
      make_vocab({"[UNK]", "un", "unwant", "##want", "##wanted", "##ed", "##e", "##d"}));
  EXPECT_EQ(pieces(model, "unwanted"), (std::vector<std::string>{"unwant", "##ed"}));
  EXPECT_EQ(pieces(model, "unwantede"), (std::vector<std::string>{"unwant", "##ed", "##e"}));
}

TEST(WordPiece, UnmatchablePositionMakesTheWholeWordUnknown) {
  const WordPiece model(make_vocab({"[UNK]", "un", "##want"}));
  std::vector<Piece> out;
  model.tokenize("unwantX", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 0);
  EXPECT_EQ(out[0].begin, 0u);
  EXPECT_EQ(out[0].end, 7u);
}

TEST(WordPiece, WordsOverTheCharacterLimitAreUnknown) {
  const WordPiece model(make_vocab({"[UNK]", "a", "##a", "\xC3\xA9", "##\xC3\xA9"}));
  EXPECT_EQ(pieces(model, std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(pieces(model, std::string(101, 'a')), std::vector<std::string>{"[UNK]"});
  // The limit counts code points, not bytes: 100 "é" are 200 bytes but still tokenize.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(pieces(model, accents).size(), 100u);
  EXPECT_EQ(pieces(model, accents + "\xC3\xA9"), std::vector<std::string>{"[UNK]"});
}

TEST(WordPiece, MatchesOnCodePointBoundaries) {
  // "é" is the bytes C3 A9; a vocabulary with only the first byte must not match half of it.
  const WordPiece model(make_vocab({"[UNK]", "x", "##\xC3\xA9"}));
  EXPECT_EQ(pieces(model, "x\xC3\xA9"), (std::vector<std::string>{"x", "##\xC3\xA9"}));
}

TEST(WordPiece, PieceOffsetsAreBytesInTheWord) {
  const WordPiece model(make_vocab({"[UNK]", "run", "##n", "##ing"}));
  std::vector<Piece> out;
  model.tokenize("running", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].begin, 3u);
  EXPECT_EQ(out[1].end, 4u);
  EXPECT_EQ(out[2].begin, 4u);
  EXPECT_EQ(out[2].end, 7u);
}

TEST(WordPiece, MissingUnknownTokenIsAnError) {
  EXPECT_THROW(WordPiece(make_vocab({"a"})), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::text
