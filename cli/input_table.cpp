// cli/input_table.cpp - see input_table.h.
#include "input_table.h"

#include <algorithm>

#include "bertlite/error.h"
#include "io/dataset.h"

namespace bertlite::cli {
namespace {

// A header's name for a role, or the positional default when the file names no columns.
std::string default_column(const io::Table& table, std::initializer_list<const char*> names,
                           const char* index) {
  for (const char* name : names) {
    if (std::find(table.names.begin(), table.names.end(), name) != table.names.end()) return name;
  }
  return index;
}

}  // namespace

void add_table_input_options(CLI::App& cmd, TableInputOptions& options, bool labels,
                             const std::string& input_flag) {
  cmd.add_option(input_flag, options.path,
                 "Input file: .tsv (SST-2's sentence<TAB>label), .csv, .jsonl, or plain text "
                 "(one sentence per line)");
  cmd.add_option("--format", options.format, "auto (from the extension), tsv, csv, jsonl, text")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "tsv", "csv", "jsonl", "text"}));
  cmd.add_flag("--header", options.header, "The first TSV/CSV row names the columns");
  cmd.add_option("--text-column", options.text_column,
                 "Column holding the sentence: a name or a 0-based index (default: 'sentence' "
                 "or 'text' when the columns are named, else 0)");
  if (labels) {
    cmd.add_option("--label-column", options.label_column,
                   "Column holding the label: a name or a 0-based index (default: 'label' when "
                   "the columns are named, else 1)");
  }
}

std::string InputTexts::row_name(std::size_t i) const {
  return source + ":" + std::to_string(i < line_numbers.size() ? line_numbers[i] : i + 1);
}

std::vector<std::int64_t> label_codes(const InputTexts& input,
                                      const std::vector<std::string>& names,
                                      const std::string& names_source) {
  std::vector<std::int64_t> codes(input.labels.size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const auto it = std::find(names.begin(), names.end(), input.labels[i]);
    if (it == names.end()) {
      throw InvalidArgument(input.row_name(i) + ": label '" + input.labels[i] +
                            "' does not occur in " + names_source);
    }
    codes[i] = it - names.begin();
  }
  return codes;
}

InputTexts read_input_texts(const TableInputOptions& options, bool with_labels) {
  if (options.path.empty()) throw InvalidArgument("no --input file given");
  io::TableOptions table_options;
  table_options.format = io::parse_table_format(options.format);
  table_options.header = options.header;
  const io::Table table = io::read_table(options.path, table_options);
  if (table.rows.empty()) throw InvalidArgument(options.path + ": no rows to read");

  InputTexts input;
  input.source = options.path;
  input.line_numbers = table.line_numbers;
  const std::string text_column = !options.text_column.empty()
                                      ? options.text_column
                                      : default_column(table, {"sentence", "text"}, "0");
  input.texts = io::column(table, text_column);
  if (std::all_of(input.texts.begin(), input.texts.end(),
                  [](const std::string& t) { return t.empty(); })) {
    throw InvalidArgument(options.path + ": no rows to read (every line is empty)");
  }
  if (with_labels) {
    const std::string label_column = !options.label_column.empty()
                                         ? options.label_column
                                         : default_column(table, {"label"}, "1");
    input.labels = io::column(table, label_column);
  }
  return input;
}

}  // namespace bertlite::cli
