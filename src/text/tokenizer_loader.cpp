// text/tokenizer_loader.cpp - builds a Tokenizer from Hugging Face files: tokenizer.json, or
// vocab.txt with tokenizer_config.json. Anything in a file that bertlite cannot reproduce
// exactly is an Unsupported error naming the component, never a silent difference.
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"
#include "util/file.h"

namespace bertlite {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Typed access to a JSON field, with errors that name the file and the field's path.
class Fields {
 public:
  Fields(const json& node, std::string file, std::string path)
      : node_(node), file_(std::move(file)), path_(std::move(path)) {}

  bool has(const char* key) const {
    return node_.is_object() && node_.contains(key) && !node_.at(key).is_null();
  }
  const json& at(const char* key) const {
    if (!node_.is_object() || !node_.contains(key)) fail(key, "is missing");
    return node_.at(key);
  }
  std::string string(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(key, "expected a string");
    return v.get<std::string>();
  }
  std::string string_or(const char* key, std::string fallback) const {
    return has(key) ? string(key) : fallback;
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_boolean()) fail(key, "expected true or false");
    return v.get<bool>();
  }
  std::int64_t integer_or(const char* key, std::int64_t fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number_integer()) fail(key, "expected an integer");
    return v.get<std::int64_t>();
  }
  Fields object(const char* key) const {
    const json& v = at(key);
    if (!v.is_object()) fail(key, "expected an object");
    return Fields(v, file_, name(key));
  }
  [[noreturn]] void fail(const char* key, const std::string& problem) const {
    throw ParseError(file_ + ": " + name(key) + " " + problem);
  }
  [[noreturn]] void unsupported(const char* key, const std::string& what,
                                const std::string& supported) const {
    throw Unsupported(file_ + ": " + name(key) + ": " + what +
                      " is not supported (supported: " + supported + ")");
  }
  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const json& node() const { return node_; }
  const std::string& file() const { return file_; }

 private:
  const json& node_;
  std::string file_;
  std::string path_;
};

json parse_json(std::string_view text, const std::string& name) {
  text::check_utf8(text, name + ": ");
  try {
    return json::parse(text);
  } catch (const json::exception& error) {
    throw ParseError(name + ": not valid JSON: " + error.what());
  }
}

// A special token in tokenizer_config.json is a string or {"content": "..."}.
std::string special_token_name(const Fields& config, const char* key, const char* fallback) {
  if (!config.has(key)) return fallback;
  const json& v = config.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) {
    return v.at("content").get<std::string>();
  }
  config.fail(key, "expected a string or an object with \"content\"");
}

std::size_t read_model_max_length(const Fields& config) {
  // transformers writes a huge sentinel (1e30) when a model sets no limit: treat it as none.
  if (!config.has("model_max_length")) return 512;
  const json& v = config.at("model_max_length");
  if (!v.is_number()) config.fail("model_max_length", "expected a number");
  const double value = v.get<double>();
  if (value <= 0) config.fail("model_max_length", "must be positive");
  return value > 1e9 ? 0 : static_cast<std::size_t>(value);
}

text::NormalizerOptions read_normalizer(const Fields& root) {
  if (!root.has("normalizer")) {
    return text::NormalizerOptions{false, false, false, false};
  }
  const Fields n = root.object("normalizer");
  const std::string type = n.string("type");
  if (type != "BertNormalizer") n.unsupported("type", "'" + type + "'", "BertNormalizer");
  text::NormalizerOptions options;
  options.clean_text = n.boolean_or("clean_text", true);
  options.handle_chinese_chars = n.boolean_or("handle_chinese_chars", true);
  options.lowercase = n.boolean_or("lowercase", true);
  // null means "follow lowercase", as in Hugging Face.
  options.strip_accents = n.boolean_or("strip_accents", options.lowercase);
  return options;
}

void check_pre_tokenizer(const Fields& root) {
  if (!root.has("pre_tokenizer")) {
    root.unsupported("pre_tokenizer", "a missing pre-tokenizer", "BertPreTokenizer");
  }
  const Fields p = root.object("pre_tokenizer");
  const std::string type = p.string("type");
  if (type != "BertPreTokenizer") p.unsupported("type", "'" + type + "'", "BertPreTokenizer");
}

std::vector<text::AddedToken> read_added_tokens(const Fields& root) {
  std::vector<text::AddedToken> tokens;
  if (!root.has("added_tokens")) return tokens;
  const json& list = root.at("added_tokens");
  if (!list.is_array()) root.fail("added_tokens", "expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    const Fields t(list[i], root.file(), path);
    text::AddedToken token{t.string("content"), 0, t.boolean_or("special", false)};
    const std::int64_t id = t.integer_or("id", -1);
    if (id < 0 || id > INT32_MAX) t.fail("id", "expected a non-negative 32-bit integer");
    token.id = static_cast<std::int32_t>(id);
    // Options that change how a token is matched; BERT models set none of them.
    for (const char* option : {"single_word", "lstrip", "rstrip", "normalized"}) {
      if (t.boolean_or(option, false)) {
        t.unsupported(option, "'" + token.content + "' with " + option + "=true",
                      "added tokens matched verbatim");
      }
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::int32_t require_id(const text::Vocab& vocab, const std::string& token,
                        const std::string& what) {
  const std::int32_t id = vocab.find(token);
  if (id < 0) throw ParseError(what + ": token '" + token + "' is not in the vocabulary");
  return id;
}

text::PostProcessor read_post_processor(const Fields& root) {
  if (!root.has("post_processor")) return text::PostProcessor::none();
  const Fields p = root.object("post_processor");
  const std::string type = p.string("type");
  if (type == "BertProcessing") {
    // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]
    auto pair_id = [&](const char* key) {
      const json& v = p.at(key);
      if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer()) {
        p.fail(key, "expected [token, id]");
      }
      const std::int64_t id = v[1].get<std::int64_t>();
      if (id < 0 || id > INT32_MAX) p.fail(key, "id " + std::to_string(id) + " is out of range");
      return static_cast<std::int32_t>(id);
    };
    return text::PostProcessor::bert(pair_id("cls"), pair_id("sep"));
  }
  if (type != "TemplateProcessing") {
    p.unsupported("type", "'" + type + "'", "TemplateProcessing, BertProcessing");
  }
  // Special tokens of the template: name -> ids.
  const Fields specials = p.object("special_tokens");
  auto read_template = [&](const char* key) {
    const json& list = p.at(key);
    if (!list.is_array()) p.fail(key, "expected a list");
    std::vector<text::TemplatePiece> pieces;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Fields item(list[i], p.file(), p.name(key) + "[" + std::to_string(i) + "]");
      text::TemplatePiece piece{};
      if (item.has("SpecialToken")) {
        const Fields s = item.object("SpecialToken");
        const std::string name = s.string("id");
        piece.kind = text::TemplatePiece::Kind::kSpecial;
        piece.type_id = static_cast<std::int32_t>(s.integer_or("type_id", 0));
        if (!specials.has(name.c_str())) {
          specials.fail(name.c_str(), "is used by the template but not defined");
        }
        const json& ids = specials.object(name.c_str()).at("ids");
        if (!ids.is_array()) specials.fail(name.c_str(), "ids: expected a list");
        for (const json& id : ids) {
          if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
              id.get<std::int64_t>() > INT32_MAX) {
            specials.fail(name.c_str(), "ids: expected non-negative 32-bit integers");
          }
          piece.ids.push_back(static_cast<std::int32_t>(id.get<std::int64_t>()));
        }
      } else if (item.has("Sequence")) {
        const Fields s = item.object("Sequence");
        const std::string which = s.string("id");
        if (which != "A" && which != "B") s.fail("id", "expected \"A\" or \"B\"");
        piece.kind = which == "A" ? text::TemplatePiece::Kind::kSequenceA
                                  : text::TemplatePiece::Kind::kSequenceB;
        piece.type_id = static_cast<std::int32_t>(s.integer_or("type_id", 0));
      } else {
        item.fail("SpecialToken", "or Sequence expected");
      }
      pieces.push_back(std::move(piece));
    }
    return pieces;
  };
  return text::PostProcessor(read_template("single"), read_template("pair"));
}

DecoderOptions read_decoder(const Fields& root) {
  DecoderOptions decoder;
  if (!root.has("decoder")) {
    decoder.enabled = false;
    return decoder;
  }
  const Fields d = root.object("decoder");
  const std::string type = d.string("type");
  if (type != "WordPiece") d.unsupported("type", "'" + type + "'", "WordPiece");
  decoder.prefix = d.string_or("prefix", "##");
  decoder.cleanup = d.boolean_or("cleanup", true);
  return decoder;
}

std::vector<std::pair<std::string, std::int32_t>> read_vocab_object(const Fields& model) {
  const json& vocab = model.at("vocab");
  if (!vocab.is_object()) model.fail("vocab", "expected an object of token: id");
  std::vector<std::pair<std::string, std::int32_t>> entries;
  entries.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > INT32_MAX) {
      model.fail("vocab", "token '" + token + "' has an invalid id");
    }
    entries.emplace_back(token, id.get<std::int32_t>());
  }
  return entries;
}

}  // namespace

Tokenizer Tokenizer::from_tokenizer_json_text(std::string_view text, std::string_view name_view) {
  const std::string name(name_view);
  const json document = parse_json(text, name);
  const Fields root(document, name, "");
  if (!document.is_object()) throw ParseError(name + ": expected a JSON object");

  const Fields model = root.object("model");
  const std::string model_type = model.string_or("type", "WordPiece");
  if (model_type != "WordPiece") model.unsupported("type", "'" + model_type + "'", "WordPiece");
  auto vocab = std::make_shared<const text::Vocab>(read_vocab_object(model));
  text::WordPieceOptions wordpiece;
  wordpiece.unk_token = model.string_or("unk_token", "[UNK]");
  wordpiece.continuing_subword_prefix = model.string_or("continuing_subword_prefix", "##");
  wordpiece.max_input_chars_per_word =
      static_cast<std::size_t>(model.integer_or("max_input_chars_per_word", 100));

  const text::NormalizerOptions normalizer = read_normalizer(root);
  check_pre_tokenizer(root);
  auto added = read_added_tokens(root);
  auto post = read_post_processor(root);
  for (std::int32_t id : post.special_ids()) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab->size()) {
      throw ParseError(name + ": post_processor: special token id " + std::to_string(id) +
                       " is outside the vocabulary of " + std::to_string(vocab->size()));
    }
  }
  // The pad token named by the file's padding section, else BERT's.
  std::string pad_token = "[PAD]";
  if (root.has("padding")) pad_token = root.object("padding").string_or("pad_token", pad_token);

  TokenizerInfo info;
  info.source = name;
  return Tokenizer(std::make_shared<const Impl>(vocab, normalizer, std::move(wordpiece),
                                                std::move(added), std::move(post), pad_token,
                                                read_decoder(root), info));
}

Tokenizer Tokenizer::from_tokenizer_json(const fs::path& path) {
  return from_tokenizer_json_text(util::read_file(path), path.string());
}

Tokenizer Tokenizer::from_vocab_file(const fs::path& vocab_path, const fs::path& config_path) {
  json config_document = json::object();
  std::string config_name = "tokenizer_config.json";
  if (!config_path.empty()) {
    config_name = config_path.string();
    config_document = parse_json(util::read_file(config_path), config_name);
  }
  const Fields config(config_document, config_name, "");
  auto vocab = std::make_shared<const text::Vocab>(text::Vocab::from_file(vocab_path));

  text::NormalizerOptions normalizer;
  normalizer.lowercase = config.boolean_or("do_lower_case", true);
  normalizer.strip_accents = config.boolean_or("strip_accents", normalizer.lowercase);
  normalizer.handle_chinese_chars = config.boolean_or("tokenize_chinese_chars", true);

  const std::string unk = special_token_name(config, "unk_token", "[UNK]");
  const std::string sep = special_token_name(config, "sep_token", "[SEP]");
  const std::string pad = special_token_name(config, "pad_token", "[PAD]");
  const std::string cls = special_token_name(config, "cls_token", "[CLS]");
  const std::string mask = special_token_name(config, "mask_token", "[MASK]");
  const std::string where = vocab_path.string();
  const std::int32_t cls_id = require_id(*vocab, cls, where);
  const std::int32_t sep_id = require_id(*vocab, sep, where);
  // The special tokens present in the vocabulary are matched verbatim in text, as
  // transformers does when it builds a fast tokenizer from vocab.txt.
  std::vector<text::AddedToken> added;
  for (const std::string& token : {pad, unk, cls, sep, mask}) {
    if (const std::int32_t id = vocab->find(token); id >= 0) added.push_back({token, id, true});
  }
  text::WordPieceOptions wordpiece;
  wordpiece.unk_token = unk;

  TokenizerInfo info;
  info.source = where;
  info.model_max_length = read_model_max_length(config);
  return Tokenizer(std::make_shared<const Impl>(
      vocab, normalizer, std::move(wordpiece), std::move(added),
      text::PostProcessor::bert(cls_id, sep_id), pad, DecoderOptions{}, info));
}

Tokenizer Tokenizer::from_tokens(std::vector<std::string> tokens, bool lowercase,
                                 bool strip_accents) {
  auto vocab = std::make_shared<const text::Vocab>(std::move(tokens));
  text::NormalizerOptions normalizer;
  normalizer.lowercase = lowercase;
  normalizer.strip_accents = strip_accents;
  std::vector<text::AddedToken> added;
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    if (const std::int32_t id = vocab->find(token); id >= 0) added.push_back({token, id, true});
  }
  const std::int32_t cls_id = vocab->find("[CLS]");
  const std::int32_t sep_id = vocab->find("[SEP]");
  text::PostProcessor post = cls_id >= 0 && sep_id >= 0 ? text::PostProcessor::bert(cls_id, sep_id)
                                                        : text::PostProcessor::none();
  TokenizerInfo info;
  info.source = "token list";
  return Tokenizer(std::make_shared<const Impl>(vocab, normalizer, text::WordPieceOptions{},
                                                std::move(added), std::move(post), "[PAD]",
                                                DecoderOptions{}, info));
}

Tokenizer Tokenizer::from_folder(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw IoError(folder.string() + ": not a folder");
  const fs::path tokenizer_json = folder / "tokenizer.json";
  const fs::path vocab_txt = folder / "vocab.txt";
  const fs::path config = folder / "tokenizer_config.json";
  const bool has_config = fs::exists(config);
  if (fs::exists(tokenizer_json)) {
    Tokenizer tokenizer = from_tokenizer_json(tokenizer_json);
    if (has_config) {
      const json document = parse_json(util::read_file(config), config.string());
      auto impl = std::make_shared<Impl>(*tokenizer.impl_);
      impl->info.model_max_length = read_model_max_length(Fields(document, config.string(), ""));
      return Tokenizer(std::move(impl));
    }
    return tokenizer;
  }
  if (fs::exists(vocab_txt)) return from_vocab_file(vocab_txt, has_config ? config : fs::path{});
  throw IoError(folder.string() + ": has neither tokenizer.json nor vocab.txt");
}

}  // namespace bertlite
