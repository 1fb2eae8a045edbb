// cli/input_table.h - the input options shared by commands that read sentences (and labels)
// from a file: --input, --format, --header, --text-column, --label-column.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bertlite::cli {

struct TableInputOptions {
  std::string path;
  std::string format = "auto";
  bool header = false;
  std::string text_column;   // empty: "sentence" or "text" when named, else column 0
  std::string label_column;  // empty: "label" when named, else column 1
  bool required = false;     // --input must be given
};

// Adds `input_flag` (default -i/--input), --format, --header, --text-column (and --label-column
// when `labels`).
void add_table_input_options(CLI::App& cmd, TableInputOptions& options, bool labels = false,
                             const std::string& input_flag = "-i,--input");

struct InputTexts {
  std::string source;
  std::vector<std::string> texts;
  std::vector<std::string> labels;  // empty unless asked for
  std::vector<std::size_t> line_numbers;
  // "train.tsv:12": where row i came from, for messages.
  std::string row_name(std::size_t i) const;
};

// The class code of each row's label in `names` (a training set's sorted label names): held-out
// data must use the training labels. Throws InvalidArgument naming the row of a label `names`
// lacks, and `names_source` (the training file).
std::vector<std::int64_t> label_codes(const InputTexts& input,
                                      const std::vector<std::string>& names,
                                      const std::string& names_source);

// Reads the text column (and the label column when `with_labels`). Throws bertlite::Error
// naming the file and line for a missing column or invalid UTF-8, and for an empty file.
InputTexts read_input_texts(const TableInputOptions& options, bool with_labels = false);

}  // namespace bertlite::cli
