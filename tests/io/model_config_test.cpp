// io/model_config.h: both spellings of config.json, sentence-transformers pooling, errors.
#include "io/model_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "bertlite/error.h"
#include "test_support.h"
#include "util/file.h"

namespace bertlite::io {
namespace {

TEST(ModelConfig, ReadsTheDefaultModel) {
  const ModelConfig c = read_model_config(BERTLITE_SOURCE_DIR "/models/all-MiniLM-L6-v2");
  EXPECT_EQ(c.architecture, Architecture::kBert);
  EXPECT_EQ(c.hidden, 384);
  EXPECT_EQ(c.layers, 6);
  EXPECT_EQ(c.heads, 12);
  EXPECT_EQ(c.head_size(), 32);
  EXPECT_EQ(c.intermediate, 1536);
  EXPECT_EQ(c.max_positions, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.activation, Activation::kGeluErf);
  EXPECT_EQ(c.pooling, Pooling::kMean);  // from 1_Pooling/config.json
  EXPECT_TRUE(c.normalize);              // from the Normalize module in modules.json
}

TEST(ModelConfig, DistilBertSpelling) {
  const ModelConfig c = parse_model_config(
      R"({"model_type": "distilbert", "dim": 768, "n_layers": 6, "n_heads": 12,
          "hidden_dim": 3072, "max_position_embeddings": 512, "vocab_size": 30522,
          "activation": "gelu"})",
      "config.json");
  EXPECT_EQ(c.architecture, Architecture::kDistilBert);
  EXPECT_EQ(c.hidden, 768);
  EXPECT_EQ(c.intermediate, 3072);
  EXPECT_EQ(c.type_vocab_size, 0);
  EXPECT_EQ(c.pooling, Pooling::kCls);
  EXPECT_FALSE(c.normalize);
}

TEST(ModelConfig, UnsupportedThingsListWhatIsSupported) {
  try {
    parse_model_config(R"({"model_type": "roberta"})", "config.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_STREQ(
        e.what(),
        "config.json: model_type 'roberta' is not supported (supported: bert, distilbert)");
  }
  try {
    parse_model_config(R"({"model_type": "distilbert", "dim": 8, "n_layers": 1, "n_heads": 2,
        "hidden_dim": 8, "max_position_embeddings": 8, "vocab_size": 8, "activation": "swish"})",
                       "config.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("activation 'swish' is not supported (supported: gelu"),
              std::string::npos);
  }
  EXPECT_THROW(parse_model_config(R"({"model_type": "bert", "hidden_size": 10})", "c.json"),
               ParseError);
  EXPECT_THROW(parse_model_config("{", "c.json"), ParseError);
  EXPECT_EQ(parse_pooling("mean"), Pooling::kMean);
  EXPECT_THROW(parse_pooling("max"), InvalidArgument);
}

// A stranger's modules.json may name any path for its Pooling module; only paths inside the
// model folder are followed (a pooling config outside it, here a real one, is never read).
TEST(ModelConfig, PoolingPathOutsideTheModelFolderIsRefused) {
  test::TempDir temp;
  const std::filesystem::path model = temp / "model", outside = temp / "outside";
  std::filesystem::create_directories(model / "1_Pooling");
  std::filesystem::create_directories(outside);
  util::write_file_atomic(model / "config.json",
                          R"({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1,
                              "num_attention_heads": 2, "intermediate_size": 8,
                              "max_position_embeddings": 8, "vocab_size": 8,
                              "type_vocab_size": 2})");
  const std::string mean = R"({"pooling_mode_mean_tokens": true})";
  util::write_file_atomic(model / "1_Pooling" / "config.json", mean);
  util::write_file_atomic(outside / "config.json", mean);
  const auto modules = [&](const std::string& path) {
    util::write_file_atomic(
        model / "modules.json",
        R"([{"type": "sentence_transformers.models.Pooling", "path": ")" + path + R"("}])");
  };
  modules("1_Pooling");
  EXPECT_EQ(read_model_config(model).pooling, Pooling::kMean);
  for (const std::string& path :
       {(outside).string(), std::string("../outside"), std::string("1_Pooling/../../outside"),
        std::string("./1_Pooling"), std::string("")}) {
    SCOPED_TRACE(path);
    modules(path);
    try {
      read_model_config(model);
      FAIL() << "followed the pooling path";
    } catch (const ParseError& e) {
      EXPECT_NE(std::string(e.what()).find("modules.json: Pooling module path '" + path +
                                           "' must be a relative path inside the model folder"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace bertlite::io
