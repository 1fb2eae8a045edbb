// fuzz/dataset_fuzz.cpp - fuzz target: arbitrary bytes as a dataset file (plain lines, TSV,
// CSV, JSONL), the tables `bertlite embed / train / predict --input` read.
//
// Input: byte 0 picks the dialect, the rest is the file's text. Byte 0, low 3 bits: 0 plain,
// 1 TSV, 2 CSV, 3 JSONL, 4-7 kAuto from the file name's extension (.tsv, .csv, .jsonl, .txt);
// bit 3: the first row is a header.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - parse_table returns or throws a bertlite::Error with a message; no other exception
//     escapes, nothing crashes, hangs or trips a sanitizer;
//   - invalid UTF-8 or a NUL byte is always an Error, and what parses has one line number per
//     row, increasing, each within the text's lines; every field and name is valid UTF-8; for
//     plain, TSV and CSV the fields hold no more bytes than the text;
//   - column() by every name and every index up to the widest row returns one value per row
//     or throws an Error;
//   - read_table on the same bytes in a file gives the same table.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/dataset.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  static constexpr io::TableFormat kFormats[] = {io::TableFormat::kPlain, io::TableFormat::kTsv,
                                                 io::TableFormat::kCsv, io::TableFormat::kJsonl};
  static constexpr const char* kNames[] = {"fuzz.tsv", "fuzz.csv", "fuzz.jsonl", "fuzz.txt"};
  const unsigned dialect = data[0] & 7;
  io::TableOptions options;
  options.format = dialect < 4 ? kFormats[dialect] : io::TableFormat::kAuto;
  options.header = (data[0] & 8) != 0;
  const std::string source = dialect < 4 ? "fuzz.data" : kNames[dialect - 4];
  const bool jsonl = options.format == io::TableFormat::kJsonl || source == "fuzz.jsonl";

  io::Table table;
  try {
    table = io::parse_table(text, source, options);
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
    return;
  }
  FUZZ_CHECK(first_invalid_utf8(text) == std::string_view::npos);
  FUZZ_CHECK(text.find('\0') == std::string_view::npos);
  FUZZ_CHECK(table.rows.size() == table.line_numbers.size());
  const std::size_t lines =
      1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  for (std::size_t i = 0; i < table.line_numbers.size(); ++i) {
    FUZZ_CHECK(table.line_numbers[i] >= 1 && table.line_numbers[i] <= lines);
    if (i > 0) FUZZ_CHECK(table.line_numbers[i] > table.line_numbers[i - 1]);
  }
  std::size_t widest = table.names.size(), bytes = 0;
  for (const auto& row : table.rows) {
    widest = std::max(widest, row.size());
    for (const std::string& field : row) {
      FUZZ_CHECK(first_invalid_utf8(field) == std::string_view::npos);
      bytes += field.size();
    }
  }
  for (const std::string& name : table.names) {
    FUZZ_CHECK(first_invalid_utf8(name) == std::string_view::npos);
    bytes += name.size();
  }
  if (!jsonl) FUZZ_CHECK(bytes <= text.size());

  std::vector<std::string> columns = table.names;
  for (std::size_t i = 0; i <= widest && i < 64; ++i) columns.push_back(std::to_string(i));
  for (const std::string& name : columns) {
    try {
      FUZZ_CHECK(io::column(table, name).size() == table.rows.size());
    } catch (const Error& error) {
      FUZZ_CHECK(error.what()[0] != '\0');
    }
  }

  const auto path = write_scratch_file(source, text);
  const io::Table again = io::read_table(path, options);
  FUZZ_CHECK(again.rows == table.rows && again.names == table.names &&
             again.line_numbers == table.line_numbers);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
