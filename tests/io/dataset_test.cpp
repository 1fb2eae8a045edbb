// io/dataset.h and io/npy.h: reading texts in every format, errors that name the line.
#include "io/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "bertlite/error.h"
#include "io/npy.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

TEST(Dataset, TsvLikeSst2) {
  const Table t = parse_table("a good film\t1\nbad\t0\r\n", "train.tsv");
  EXPECT_EQ(column(t, "0"), (std::vector<std::string>{"a good film", "bad"}));
  EXPECT_EQ(column(t, "1"), (std::vector<std::string>{"1", "0"}));
}

TEST(Dataset, PlainLinesKeepTabs) {
  const Table t = parse_table("one\ttwo\nthree\n", "x.txt");
  EXPECT_EQ(column(t, "0"), (std::vector<std::string>{"one\ttwo", "three"}));
}

TEST(Dataset, CsvWithHeaderQuotesAndNewlines) {
  const Table t = parse_table("sentence,label\n\"a, \"\"quoted\"\"\nline\",1\nplain,0\n", "d.csv",
                              {.header = true});
  EXPECT_EQ(column(t, "sentence"), (std::vector<std::string>{"a, \"quoted\"\nline", "plain"}));
  EXPECT_EQ(column(t, "label"), (std::vector<std::string>{"1", "0"}));
  EXPECT_EQ(t.line_numbers, (std::vector<std::size_t>{2, 4}));
  EXPECT_THROW(parse_table("\"never closed\n", "bad.csv"), ParseError);
}

TEST(Dataset, CsvCrAfterAClosingQuoteMustEndTheLine) {
  // CRLF and a final CR end the row; a lone CR followed by more text is an error, not a
  // separator (the byte after it was once dropped as if it were the comma).
  EXPECT_EQ(column(parse_table("\"a\"\r\n\"b\"\r", "d.csv"), "0"),
            (std::vector<std::string>{"a", "b"}));
  try {
    parse_table("\"x\",1\n\"a\"\r\xc3\xa9,1\n", "d.csv");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "d.csv:2: unexpected character after a closing quote");
  }
}

TEST(Dataset, Jsonl) {
  const Table t = parse_table(
      "{\"text\": \"hi\", \"label\": 1}\n\n{\"label\": 0, \"text\": \"yo\"}\n", "d.jsonl");
  EXPECT_EQ(column(t, "text"), (std::vector<std::string>{"hi", "yo"}));
  EXPECT_EQ(column(t, "label"), (std::vector<std::string>{"1", "0"}));
  try {
    parse_table("{\"text\": 1}\n[1]\n", "d.jsonl");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "d.jsonl:2: expected a JSON object");
  }
}

TEST(Dataset, ErrorsNameTheLine) {
  const Table t = parse_table("a\t1\nb\n", "train.tsv");
  try {
    column(t, "1");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "train.tsv:2: no column 1 (the line has 1 field)");
  }
  EXPECT_THROW(column(t, "label"), InvalidArgument);
  try {
    parse_table("ok\nbad \xFF\n", "in.txt");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "in.txt:2: invalid UTF-8 at byte 7 of the file");
  }
}

TEST(Npy, RoundTripAndErrors) {
  const auto path = std::filesystem::temp_directory_path() / "bertlite_npy_test.npy";
  const std::vector<float> data{1, 2, 3, 4, 5, 6.5f};
  write_npy(path, data, 2, 3);
  const NpyMatrix m = read_npy(path);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, data);
  EXPECT_EQ(std::filesystem::file_size(path) % 64, 24u);  // 64-byte header + 24 data bytes
  EXPECT_THROW(write_npy(path, data, 4, 4), InvalidArgument);
  std::filesystem::remove(path);
}

// fuzz/regressions/npy_fuzz/shape_product_wraps_to_zero.npy: 2^40 x 2^40 wraps to 0 elements.
TEST(Npy, ShapeWhoseProductWrapsIsAnError) {
  const auto path = std::filesystem::temp_directory_path() / "bertlite_npy_wrap_test.npy";
  const std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }\n";
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(header.size());
  bytes += '\0';
  util::write_file_atomic(path, bytes + header);
  try {
    (void)read_npy(path);
    ADD_FAILURE() << "no error";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("needs more than the 0 bytes of data"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace bertlite::io
