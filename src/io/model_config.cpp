#include "io/model_config.h"

#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json parse(std::string_view text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw ParseError(name + ": not valid JSON: " + e.what());
  }
}

constexpr std::int64_t kMaxLayers = 1024;

// Reads a positive integer field, trying each spelling in turn (BERT's, then DistilBERT's).
std::int64_t positive(const json& config, const std::string& name,
                      std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (!config.contains(key)) continue;
    const json& v = config.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > (1 << 30)) {
      throw ParseError(name + ": " + key + ": expected a positive integer, found " + v.dump());
    }
    return v.get<std::int64_t>();
  }
  throw ParseError(name + ": " + *keys.begin() + " is missing");
}

std::string string_or(const json& config, const char* key, const std::string& fallback,
                      const std::string& name) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  if (!config.at(key).is_string()) throw ParseError(name + ": " + key + ": expected a string");
  return config.at(key).get<std::string>();
}

Activation parse_activation(const std::string& value, const std::string& name, const char* key) {
  if (value == "gelu") return Activation::kGeluErf;
  if (value == "gelu_new" || value == "gelu_pytorch_tanh" || value == "gelu_fast") {
    return Activation::kGeluTanh;
  }
  if (value == "relu") return Activation::kRelu;
  throw Unsupported(name + ": " + key + " '" + value +
                    "' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, "
                    "gelu_fast, relu)");
}

}  // namespace

ModelConfig parse_model_config(std::string_view text, const std::string& name) {
  const json config = parse(text, name);
  if (!config.is_object()) throw ParseError(name + ": expected a JSON object");
  ModelConfig c;
  c.source = name;
  const std::string model_type = string_or(config, "model_type", "", name);
  if (model_type == "bert") {
    c.architecture = Architecture::kBert;
    c.hidden = positive(config, name, {"hidden_size"});
    c.layers = positive(config, name, {"num_hidden_layers"});
    c.heads = positive(config, name, {"num_attention_heads"});
    c.intermediate = positive(config, name, {"intermediate_size"});
    c.max_positions = positive(config, name, {"max_position_embeddings"});
    c.type_vocab_size = positive(config, name, {"type_vocab_size"});
    c.activation =
        parse_activation(string_or(config, "hidden_act", "gelu", name), name, "hidden_act");
    if (config.contains("layer_norm_eps")) {
      if (!config.at("layer_norm_eps").is_number() ||
          config.at("layer_norm_eps").get<double>() <= 0) {
        throw ParseError(name + ": layer_norm_eps: expected a positive number");
      }
      c.layer_norm_eps = config.at("layer_norm_eps").get<double>();
    }
    const std::string positions = string_or(config, "position_embedding_type", "absolute", name);
    if (positions != "absolute") {
      throw Unsupported(name + ": position_embedding_type '" + positions +
                        "' is not supported (supported: absolute)");
    }
  } else if (model_type == "distilbert") {
    c.architecture = Architecture::kDistilBert;
    c.hidden = positive(config, name, {"dim"});
    c.layers = positive(config, name, {"n_layers"});
    c.heads = positive(config, name, {"n_heads"});
    c.intermediate = positive(config, name, {"hidden_dim"});
    c.max_positions = positive(config, name, {"max_position_embeddings"});
    c.type_vocab_size = 0;
    c.activation =
        parse_activation(string_or(config, "activation", "gelu", name), name, "activation");
    c.layer_norm_eps = 1e-12;  // fixed in transformers' DistilBERT, not a config field
  } else {
    throw Unsupported(name + ": model_type '" + model_type +
                      "' is not supported (supported: bert, distilbert)");
  }
  c.vocab_size = positive(config, name, {"vocab_size"});
  // Written by `bertlite quantize`: the GEMM precision the stored weights are meant for.
  c.precision = string_or(config, "bertlite_precision", "", name);
  if (!c.precision.empty() && c.precision != "bf16" && c.precision != "int8") {
    throw Unsupported(name + ": bertlite_precision '" + c.precision +
                      "' is not supported (supported: bf16, int8)");
  }
  if (c.hidden % c.heads != 0) {
    throw ParseError(name + ": hidden size " + std::to_string(c.hidden) +
                     " is not a multiple of the " + std::to_string(c.heads) +
                     " attention heads (num_attention_heads / n_heads)");
  }
  // Sizes no released encoder comes near: a damaged or hostile file, caught here rather than
  // as a million missing tensors or an allocation that cannot succeed.
  if (c.layers > kMaxLayers) {
    throw ParseError(name + ": num_hidden_layers / n_layers " + std::to_string(c.layers) +
                     " is more than " + std::to_string(kMaxLayers));
  }
  return c;
}

ModelConfig read_model_config(const fs::path& folder) {
  const fs::path config_path = folder / "config.json";
  if (!fs::exists(config_path)) throw IoError(folder.string() + ": has no config.json");
  ModelConfig c = parse_model_config(util::read_file(config_path), config_path.string());

  // sentence-transformers: modules.json lists a Pooling module (with its own config) and,
  // optionally, a Normalize module.
  const fs::path modules_path = folder / "modules.json";
  if (!fs::exists(modules_path)) return c;
  const json modules = parse(util::read_file(modules_path), modules_path.string());
  if (!modules.is_array()) throw ParseError(modules_path.string() + ": expected a list of modules");
  for (const json& module : modules) {
    if (!module.is_object()) continue;
    const std::string type = string_or(module, "type", "", modules_path.string());
    const std::string path = string_or(module, "path", "", modules_path.string());
    if (type.ends_with(".Normalize")) c.normalize = true;
    if (!type.ends_with(".Pooling")) continue;
    // A stranger's modules.json must not make bertlite read files outside the model's folder.
    if (!util::is_contained_relative_path(path)) {
      throw ParseError(modules_path.string() + ": Pooling module path '" + path +
                       "' must be a relative path inside the model folder");
    }
    const fs::path pooling_path = folder / path / "config.json";
    const json pooling = parse(util::read_file(pooling_path), pooling_path.string());
    auto flag = [&](const char* key) {
      return pooling.contains(key) && pooling.at(key).is_boolean() && pooling.at(key).get<bool>();
    };
    if (flag("pooling_mode_mean_tokens")) {
      c.pooling = Pooling::kMean;
    } else if (flag("pooling_mode_cls_token")) {
      c.pooling = Pooling::kCls;
    } else {
      throw Unsupported(pooling_path.string() +
                        ": pooling mode is not supported (supported: cls_token, mean_tokens)");
    }
  }
  return c;
}

const char* architecture_name(Architecture a) {
  return a == Architecture::kBert ? "bert" : "distilbert";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kGeluErf:
      return "gelu (erf)";
    case Activation::kGeluTanh:
      return "gelu (tanh)";
    case Activation::kRelu:
      return "relu";
  }
  return "?";
}

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kCls:
      return "cls";
    case Pooling::kMean:
      return "mean";
    case Pooling::kPooler:
      return "pooler";
  }
  return "?";
}

Pooling parse_pooling(std::string_view name) {
  if (name == "cls") return Pooling::kCls;
  if (name == "mean") return Pooling::kMean;
  if (name == "pooler") return Pooling::kPooler;
  throw InvalidArgument("pooling '" + std::string(name) + "' is not one of: cls, mean, pooler");
}

}  // namespace bertlite::io
