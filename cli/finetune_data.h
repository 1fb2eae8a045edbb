// cli/finetune_data.h - what `bertlite finetune` and `bertlite guide --finetune` share: labelled
// training data from a table or a treebank, class codes checked against the training labels,
// and the console progress of a fine-tuning run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "input_table.h"
#include "io/treebank.h"
#include "train/finetune.h"

namespace bertlite::cli {

// Where labelled rows come from and how to read them.
struct LabelledSource {
  TableInputOptions table;  // format and columns, for TSV/CSV/JSONL files
  std::string pair_column;  // a second text column (sentence pairs), or empty
  io::TreebankTask task = io::TreebankTask::kSst2;
};

// Labelled texts from a TSV/CSV/JSONL table or a treebank, with their label names.
struct LabelledData {
  std::string source;
  std::vector<std::string> texts, pairs;
  std::vector<std::string> labels;  // per row, as the file names it
  std::vector<std::string> row_names;
  // Per row, the label as a class index: a treebank's label, or a table's integer label
  // ("1" -> 1); -1 for other labels.
  std::vector<std::int32_t> indices;
  bool treebank = false;
};

// Reads `path`: a treebank file (every labelled phrase when `phrases`) or a table. Throws
// InvalidArgument for --phrases on a table, and for a treebank without labelled trees.
LabelledData read_labelled(const LabelledSource& source, const std::string& path, bool phrases);

// The classes a model trained on `train` predicts, in order: the treebank task's names, or the
// table's sorted label names.
std::vector<std::string> class_names(const LabelledData& train, io::TreebankTask task);

// Class codes of `data` in the training classes `names`. A label the training data lacks is an
// error naming the row, with one exception: a class index stands for the class (the label 1 of
// data/sst2/dev.tsv for the treebank's "positive") unless the training labels are other
// numbers, where an index would be ambiguous.
std::vector<std::int32_t> codes_in(const LabelledData& data, const std::vector<std::string>& names,
                                   const std::string& names_source);

// Throws InvalidArgument unless `codes` hold at least two classes.
void require_two_classes(const LabelledData& data, const std::vector<std::int32_t>& codes,
                         const std::vector<std::string>& names);

// "train: 6,920 rows from FILE: negative 3,310 (47.8%) positive 3,610 (52.2%)"
void print_label_counts(const char* what, const LabelledData& data,
                        const std::vector<std::int32_t>& codes,
                        const std::vector<std::string>& names);

// A progress bar per epoch (loss, tokens/s, ETA) and a line per finished epoch on stdout.
train::FinetuneHooks console_hooks(std::int64_t epochs);

}  // namespace bertlite::cli
