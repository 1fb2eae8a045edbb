// io/dataset.h - reading sentences (and labels) from text files: plain lines, TSV, CSV, JSONL.
//
// Every error names the file and line: "train.tsv:12: no column 2 (the line has 1 field)".
// Text must be valid UTF-8; an invalid byte is reported with its line and offset in the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bertlite::io {

enum class TableFormat {
  kAuto,   // from the extension: .tsv -> TSV, .csv -> CSV, .jsonl/.json -> JSONL, else plain
  kPlain,  // one text per line; the only column is 0
  kTsv,    // TAB-separated fields, no quoting (SST-2's format)
  kCsv,    // RFC 4180: commas, "quoted" fields with "" escapes and embedded newlines
  kJsonl,  // one JSON object per line; columns are keys
};

struct TableOptions {
  TableFormat format = TableFormat::kAuto;
  // The first row names the columns (TSV/CSV). JSONL always has names; plain never does.
  bool header = false;
};

// A table of string fields. JSONL values that are not strings are kept as their JSON text.
struct Table {
  std::string source;                          // the file, for messages
  std::vector<std::string> names;              // column names when known
  std::vector<std::vector<std::string>> rows;  // fields per row
  std::vector<std::size_t> line_numbers;       // 1-based line where each row starts
};

// Parses "text", "csv", "tsv", "jsonl" (and "auto"); throws InvalidArgument otherwise.
TableFormat parse_table_format(const std::string& name);

Table read_table(const std::filesystem::path& path, const TableOptions& options = {});
// Same, from text already in memory; `source` names it in messages, and its extension
// decides kAuto.
Table parse_table(std::string_view text, const std::string& source,
                  const TableOptions& options = {});

// The values of one column: `column` is a name (header / JSONL key) or a 0-based index.
// Throws ParseError naming the line of the first row that lacks it.
std::vector<std::string> column(const Table& table, const std::string& column);

}  // namespace bertlite::io
