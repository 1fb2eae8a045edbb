// cli/tokenize_command.cpp - `bertlite tokenize`: tokens and ids of sentences, shown the way
// the "first BERT" walkthrough illustrates them, or as JSON lines for machines.
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bertlite/tokenizer.h"
#include "commands.h"
#include "io/model_path.h"
#include "lines.h"

namespace bertlite::cli {
namespace {

struct TokenizeOptions {
  std::string model = io::kDefaultModel;
  std::vector<std::string> texts;
  std::string input;
  std::string pair;
  bool json = false;
  bool no_special = false;
  std::size_t max_length = 0;
  int threads = 0;
};

// Tokens above their ids, each column as wide as its wider cell:
//   [CLS]  a     visually  ...
//   101    1037  17453     ...
void print_table(const Tokenizer& tokenizer, const Encoding& e, std::ostream& out) {
  std::string tokens_line, ids_line;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const std::string token(tokenizer.token(e.ids[i]));
    const std::string id = std::to_string(e.ids[i]);
    // Display width: count code points, not bytes, so accented tokens line up.
    std::size_t token_width = 0;
    for (unsigned char c : token) token_width += (c & 0xC0) != 0x80;
    const std::size_t width = std::max(token_width, id.size());
    const std::string gap = i + 1 < e.size() ? "  " : "";
    tokens_line += token + std::string(width - token_width, ' ') + gap;
    ids_line += id + std::string(width - id.size(), ' ') + gap;
  }
  while (ids_line.ends_with(' ')) ids_line.pop_back();
  while (tokens_line.ends_with(' ')) tokens_line.pop_back();
  out << tokens_line << '\n' << ids_line << '\n';
}

nlohmann::json to_json(const Tokenizer& tokenizer, const Encoding& e) {
  nlohmann::json offsets = nlohmann::json::array();
  for (const Offset& o : e.offsets) offsets.push_back({o.begin, o.end});
  return {{"tokens", tokenizer.tokens(e.ids)},  {"ids", e.ids},       {"type_ids", e.type_ids},
          {"attention_mask", e.attention_mask}, {"offsets", offsets}, {"truncated", e.truncated}};
}

void run(const TokenizeOptions& options) {
  const Tokenizer tokenizer = Tokenizer::from_folder(io::resolve_model(options.model));
  EncodeOptions encode;
  encode.add_special_tokens = !options.no_special;
  encode.max_length = options.max_length;

  std::vector<std::string> texts = options.texts;
  if (texts.empty()) {
    // No text on the command line: one text per line of the file, or of standard input.
    for (auto& line : read_lines(options.input.empty() ? "-" : options.input)) {
      texts.push_back(std::move(line.text));
    }
  }
  std::vector<Encoding> encodings;
  if (options.pair.empty()) {
    encodings = tokenizer.encode_batch(texts, encode, options.threads);
  } else {
    for (const auto& text : texts)
      encodings.push_back(tokenizer.encode(text, options.pair, encode));
  }
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    if (options.json) {
      std::cout << to_json(tokenizer, encodings[i]).dump() << '\n';
    } else {
      if (i > 0) std::cout << '\n';
      print_table(tokenizer, encodings[i], std::cout);
    }
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Show the WordPiece tokens and ids of sentences.\n"
      "Texts come from the arguments, else from --input, else one per line of standard input.");
  cmd->add_option("texts", options->texts, "Texts to tokenize");
  cmd->add_option("-m,--model", options->model, "Model folder or name")->capture_default_str();
  cmd->add_option("-i,--input", options->input, "Read one text per line from this file");
  cmd->add_option("--pair", options->pair, "Second text: encode each text as a pair with it");
  cmd->add_flag("--json", options->json,
                "One JSON object per text: tokens, ids, type_ids, attention_mask, byte offsets");
  cmd->add_flag("--no-special", options->no_special, "Leave out [CLS] and [SEP]");
  cmd->add_option("--max-length", options->max_length,
                  "Truncate to this many tokens, special tokens included (0 = no limit)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Threads (0 = all available cores)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace bertlite::cli
