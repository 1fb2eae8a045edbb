#include "finetune_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "bertlite/error.h"
#include "learn/labels.h"
#include "util/progress.h"

namespace bertlite::cli {
namespace {

bool is_index_names(const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != std::to_string(i)) return false;
  }
  return true;
}

}  // namespace

LabelledData read_labelled(const LabelledSource& source, const std::string& path, bool phrases) {
  LabelledData data;
  data.source = path;
  if (io::looks_like_treebank(path)) {
    data.treebank = true;
    io::TreebankOptions tb;
    tb.task = source.task;
    tb.phrases = phrases;
    const std::vector<std::string> names = io::treebank_label_names(tb.task);
    for (const io::TreebankExample& e : io::read_treebank(path, tb)) {
      data.texts.push_back(e.text);
      data.labels.push_back(names[static_cast<std::size_t>(e.label)]);
      data.indices.push_back(e.label);
    }
    if (data.texts.empty()) throw InvalidArgument(path + ": no labelled trees");
    return data;
  }
  if (phrases) {
    throw InvalidArgument(path + ": --phrases needs a treebank file (data/sst/train.txt)");
  }
  TableInputOptions table = source.table;
  table.path = path;
  const InputTexts input = read_input_texts(table, /*with_labels=*/true);
  data.texts = input.texts;
  data.labels = input.labels;
  for (std::size_t i = 0; i < input.texts.size(); ++i) {
    data.row_names.push_back(input.row_name(i));
    const std::string& label = input.labels[i];
    const bool digits =
        !label.empty() && label.size() < 6 &&
        std::all_of(label.begin(), label.end(), [](char c) { return c >= '0' && c <= '9'; });
    data.indices.push_back(digits ? std::stoi(label) : -1);
  }
  if (!source.pair_column.empty()) {
    table.text_column = source.pair_column;
    data.pairs = read_input_texts(table).texts;
  }
  return data;
}

std::vector<std::string> class_names(const LabelledData& train, io::TreebankTask task) {
  return train.treebank ? io::treebank_label_names(task) : learn::encode_labels(train.labels).names;
}

std::vector<std::int32_t> codes_in(const LabelledData& data, const std::vector<std::string>& names,
                                   const std::string& names_source) {
  const bool numeric_names = learn::encode_labels(names).numeric;
  const bool indices_allowed = !numeric_names || is_index_names(names);
  std::vector<std::int32_t> codes(data.labels.size());
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    const auto it = std::find(names.begin(), names.end(), data.labels[i]);
    if (it != names.end()) {
      codes[i] = static_cast<std::int32_t>(it - names.begin());
      continue;
    }
    const std::int32_t index = data.indices.empty() ? -1 : data.indices[i];
    if (indices_allowed && index >= 0 && index < std::ssize(names)) {
      codes[i] = index;
      continue;
    }
    const std::string where = i < data.row_names.size() ? data.row_names[i] : data.source;
    std::string known;
    for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
    throw InvalidArgument(where + ": label '" + data.labels[i] + "' is not one of the labels of " +
                          names_source + " (" + known + ")");
  }
  return codes;
}

void require_two_classes(const LabelledData& data, const std::vector<std::int32_t>& codes,
                         const std::vector<std::string>& names) {
  std::vector<bool> seen(names.size(), false);
  for (std::int32_t c : codes) seen[static_cast<std::size_t>(c)] = true;
  if (std::count(seen.begin(), seen.end(), true) < 2) {
    throw InvalidArgument(data.source + ": every row has the label '" +
                          names[static_cast<std::size_t>(codes.front())] +
                          "'; a classifier needs at least two classes");
  }
}

void print_label_counts(const char* what, const LabelledData& data,
                        const std::vector<std::int32_t>& codes,
                        const std::vector<std::string>& names) {
  std::vector<std::int64_t> counts(names.size(), 0);
  for (std::int32_t c : codes) ++counts[static_cast<std::size_t>(c)];
  std::printf("%s %s rows from %s:", what, util::format_count(std::ssize(codes)).c_str(),
              data.source.c_str());
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::printf(" %s %s (%.1f%%)", names[k].c_str(), util::format_count(counts[k]).c_str(),
                100.0 * static_cast<double>(counts[k]) / static_cast<double>(codes.size()));
  }
  std::printf("\n");
}

train::FinetuneHooks console_hooks(std::int64_t epochs) {
  // The hooks are copied into the loop; they share the current epoch's bar.
  auto bar = std::make_shared<std::unique_ptr<util::ProgressBar>>();
  train::FinetuneHooks hooks;
  hooks.epoch_started = [bar, epochs](std::int64_t epoch, std::int64_t tokens) {
    *bar = std::make_unique<util::ProgressBar>(
        "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs), tokens, "tokens");
  };
  hooks.step_done = [bar](std::int64_t tokens, double loss) {
    char note[32];
    std::snprintf(note, sizeof note, "loss %.4f", loss);
    (*bar)->set_note(note);
    (*bar)->advance(tokens);
  };
  hooks.epoch_done = [bar, epochs](const train::EpochMetrics& m) {
    (*bar)->finish();
    std::printf("epoch %lld/%lld: train loss %.4f", static_cast<long long>(m.epoch),
                static_cast<long long>(epochs), m.train_loss);
    if (m.eval_accuracy >= 0) {
      std::printf(", eval accuracy %.4f, eval loss %.4f", m.eval_accuracy, m.eval_loss);
    }
    std::printf(", %s, %s tokens/s\n", util::format_duration(m.seconds).c_str(),
                util::format_count(std::llround(m.tokens_per_second)).c_str());
    std::fflush(stdout);
  };
  hooks.note = [](const std::string& message) { std::printf("%s\n", message.c_str()); };
  return hooks;
}

}  // namespace bertlite::cli
