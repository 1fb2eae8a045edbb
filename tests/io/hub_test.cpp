// tests/io/hub_test.cpp - the Hugging Face Hub cache and downloads, against a fake hub.
//
// Every test starts tests/hub_server/hub_server.py (loopback only, its own ports, stops by
// itself) serving small model folders built here from tests/data/encoder, and uses a fresh
// temporary cache. The server logs every request, so tests can assert that a resolution made
// none, that a token reached the hub but not the CDN, and that a resume sent a Range. The
// interop tests run Python's huggingface_hub (BERTLITE_PYTHON, the project's venv) on the
// same cache in both directions.
#include "io/hub.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bertlite/error.h"
#include "io/http.h"
#include "io/model_path.h"
#include "util/file.h"

extern char** environ;

namespace bertlite::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kServerScript = fs::path(BERTLITE_SOURCE_DIR) / "tests/hub_server/hub_server.py";
const fs::path kEncoderData = fs::path(BERTLITE_TEST_DATA) / "encoder";
constexpr const char* kToken = "hf_test_token";

// A folder under /tmp removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("bertlite_hub_test_" + std::to_string(::getpid()) + "_" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Sets (or, with nullopt, unsets) environment variables for one scope.
class ScopedEnv {
 public:
  void set(const std::string& name, std::optional<std::string> value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// Starts `argv` with `env` (the whole environment) and stdout on a pipe; returns pid and fd.
std::pair<pid_t, int> spawn(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& var : env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return {pid, pipe_fds[0]};
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** var = environ; *var; ++var) env.emplace_back(*var);
  return env;
}

// Runs Python's huggingface_hub code `script` with `env` added to a clean environment; returns
// what it prints as JSON. Fails the test if Python fails.
json run_python(const std::string& script, const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env{"PATH=/usr/bin:/bin", "HF_HUB_DISABLE_TELEMETRY=1",
                               "HF_HUB_DISABLE_UPDATE_CHECK=1", "HF_HUB_DISABLE_XET=1"};
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  auto [pid, fd] = spawn({BERTLITE_PYTHON, "-c", script}, env);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "python failed: " << out;
  return json::parse(out.substr(out.rfind('\n', out.size() - 2) + 1));
}

// The fake hub: a child process serving repos until the test ends.
class FakeHub {
 public:
  explicit FakeHub(const std::vector<std::string>& args) {
    std::vector<std::string> argv{BERTLITE_PYTHON, kServerScript.string(), "--lifetime", "300"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [pid, fd] = spawn(argv, current_environment());
    pid_ = pid;
    // The first line is the endpoint; a server that says nothing in 30 s is broken.
    std::string line;
    pollfd poll_fd{fd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      if (::poll(&poll_fd, 1, 1000) <= 0) continue;
      char c;
      if (::read(fd, &c, 1) != 1) break;
      line += c;
    }
    ::close(fd);
    if (line.rfind("http://127.0.0.1:", 0) != 0) {
      stop();
      throw std::runtime_error("fake hub did not start: '" + line + "'");
    }
    endpoint_ = line.substr(0, line.find('\n'));
  }
  ~FakeHub() { stop(); }

  const std::string& endpoint() const { return endpoint_; }

  json control(const std::string& what) const {
    std::string body;
    const http::Response response = http::get_text(endpoint_ + "/_control/" + what, {}, {}, &body);
    EXPECT_EQ(response.status, 200) << what;
    return json::parse(body);
  }
  json log() const { return control("log"); }
  void reset() const { control("reset"); }
  std::string commit(const std::string& repo, const std::string& revision = "main") const {
    return control("repos")[repo][revision].get<std::string>();
  }
  void truncate(const std::string& match, int after) const {
    control("truncate?match=" + match + "&after=" + std::to_string(after) + "&times=1");
  }

 private:
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid_ = -1;
  std::string endpoint_;
};

void copy_model_files(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const char* file :
       {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"}) {
    fs::copy_file(from / file, to / file);
  }
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  util::write_file_atomic(path, text);
}

std::vector<std::string> list(const fs::path& folder) {
  std::vector<std::string> names;
  if (!fs::exists(folder)) return names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read(const fs::path& path) {
  return util::read_file(path);
}

// Builds the repos in a temporary folder and serves them.
class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path repos = root_.path() / "repos";
    const fs::path bert = kEncoderData / "bert_tiny";
    tiny_ = repos / "bert-tiny";
    copy_model_files(bert, tiny_);
    write(
        tiny_ / "modules.json",
        R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},)"
        R"( {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
    write(tiny_ / "1_Pooling/config.json",
          R"({"word_embedding_dimension": 48, "pooling_mode_mean_tokens": true})");

    const fs::path v1 = repos / "bert-tiny-v1";
    copy_model_files(bert, v1);
    write(v1 / "config.json", read(bert / "config.json").substr(0, 1) +
                                  "\n  \"bertlite_test_revision\": \"v1\"," +
                                  read(bert / "config.json").substr(1));

    const fs::path distil = repos / "distilbert";
    copy_model_files(kEncoderData / "distilbert_tiny", distil);

    const fs::path sharded = repos / "sharded";
    write(sharded / "config.json", read(bert / "config.json"));
    write(sharded / "vocab.txt", read(bert / "vocab.txt"));
    write(sharded / "model-00001-of-00002.safetensors", std::string(5000, 'a'));
    write(sharded / "model-00002-of-00002.safetensors", std::string(7000, 'b'));
    write(sharded / "model.safetensors.index.json",
          R"({"metadata": {"total_size": 12000}, "weight_map": {)"
          R"("a.weight": "model-00001-of-00002.safetensors",)"
          R"("b.weight": "model-00002-of-00002.safetensors",)"
          R"("c.weight": "model-00002-of-00002.safetensors"}})");

    const fs::path no_weights = repos / "no-weights";
    write(no_weights / "config.json", read(bert / "config.json"));
    write(no_weights / "vocab.txt", read(bert / "vocab.txt"));
    const fs::path no_config = repos / "no-config";
    write(no_config / "vocab.txt", read(bert / "vocab.txt"));

    hub_.emplace(std::vector<std::string>{"--repo",    "tiny-org/bert-tiny=" + tiny_.string(),
                                          "--repo",    "tiny-org/bert-tiny@v1=" + v1.string(),
                                          "--repo",    "distilbert-base-uncased=" + distil.string(),
                                          "--repo",    "tiny-org/sharded=" + sharded.string(),
                                          "--repo",    "tiny-org/no-weights=" + no_weights.string(),
                                          "--repo",    "tiny-org/no-config=" + no_config.string(),
                                          "--repo",    "tiny-org/secret=" + tiny_.string(),
                                          "--private", "tiny-org/secret",
                                          "--token",   kToken,
                                          "--alias",   "old-org/bert-tiny=tiny-org/bert-tiny"});

    settings_.cache_dir = root_.path() / "hf_home" / "hub";
    settings_.endpoint = hub_->endpoint();
    settings_.log = &log_;
  }

  fs::path repo_folder(const std::string& repo) const { return hub_repo_folder(settings_, repo); }
  // Requests the server saw, apart from test controls.
  std::vector<json> requests() const {
    const json log = hub_->log();
    return {log.begin(), log.end()};
  }

  TempDir root_;
  fs::path tiny_;
  std::optional<FakeHub> hub_;
  HubSettings settings_;
  std::ostringstream log_;
};

// ---------------------------------------------------------------------------------------------
// Names and settings

TEST(HubNames, ParsesNamesAndRevisions) {
  EXPECT_EQ(parse_hub_model_name("distilbert-base-uncased").repo_id, "distilbert-base-uncased");
  EXPECT_EQ(parse_hub_model_name("distilbert-base-uncased").revision, "main");
  const HubModelName name = parse_hub_model_name("sentence-transformers/all-MiniLM-L6-v2@v1.0");
  EXPECT_EQ(name.repo_id, "sentence-transformers/all-MiniLM-L6-v2");
  EXPECT_EQ(name.revision, "v1.0");
  EXPECT_EQ(parse_hub_model_name("org/name@refs/pr/1").revision, "refs/pr/1");
  for (const char* bad : {"a/b/c", "./model", "/abs/path", "x--y", "x..y", "-x", "x.", ".x",
                          "name@", "name@../x", "name@/x", "org/", "/name", "name.git", ""}) {
    EXPECT_FALSE(is_hub_model_name(bad)) << bad;
    EXPECT_THROW(parse_hub_model_name(bad), InvalidArgument) << bad;
  }
  EXPECT_TRUE(is_hub_model_name("bert-base-uncased"));
  EXPECT_TRUE(is_hub_model_name("org_1/Model.v2-x"));
}

TEST(HubNames, RepoFolderIsHuggingFaceLayout) {
  HubSettings settings;
  settings.cache_dir = "/c";
  EXPECT_EQ(hub_repo_folder(settings, "org/name"), fs::path("/c/models--org--name"));
  EXPECT_EQ(hub_repo_folder(settings, "bert-base-uncased"),
            fs::path("/c/models--bert-base-uncased"));
}

TEST(HubSettingsTest, ReadsTheHuggingFaceEnvironment) {
  TempDir home;
  ScopedEnv env;
  for (const char* name :
       {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
        "XDG_CACHE_HOME", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"}) {
    env.set(name, std::nullopt);
  }
  env.set("HOME", home.path().string());
  env.set("HF_HOME", std::nullopt);
  HubSettings settings = HubSettings::from_environment();
  EXPECT_EQ(settings.cache_dir, home.path() / ".cache/huggingface/hub");
  EXPECT_EQ(settings.endpoint, "https://huggingface.co");
  EXPECT_FALSE(settings.offline);
  EXPECT_EQ(settings.token, "");
  EXPECT_EQ(settings.log, &std::cerr);

  env.set("XDG_CACHE_HOME", (home.path() / "xdg").string());
  EXPECT_EQ(HubSettings::from_environment().cache_dir, home.path() / "xdg/huggingface/hub");
  env.set("HF_HOME", "~/hf");
  EXPECT_EQ(HubSettings::from_environment().cache_dir, home.path() / "hf/hub");
  write(home.path() / "hf/token", "  hf_from_file\n");
  EXPECT_EQ(HubSettings::from_environment().token, "hf_from_file");
  env.set("HUGGINGFACE_HUB_CACHE", "/legacy");
  EXPECT_EQ(HubSettings::from_environment().cache_dir, fs::path("/legacy"));
  env.set("HF_HUB_CACHE", "/new");
  EXPECT_EQ(HubSettings::from_environment().cache_dir, fs::path("/new"));

  env.set("HF_ENDPOINT", "http://mirror.example:8080/");
  env.set("HF_TOKEN", "hf_env\n");
  env.set("TRANSFORMERS_OFFLINE", "1");
  env.set("HF_HUB_ETAG_TIMEOUT", "3");
  settings = HubSettings::from_environment();
  EXPECT_EQ(settings.endpoint, "http://mirror.example:8080");
  EXPECT_EQ(settings.token, "hf_env");
  EXPECT_TRUE(settings.offline);
  EXPECT_EQ(settings.etag_timeout_seconds, 3);
  env.set("HF_HUB_OFFLINE", "0");  // the first one set wins, as in huggingface_hub
  EXPECT_FALSE(HubSettings::from_environment().offline);
  env.set("HF_HUB_OFFLINE", "yes");
  EXPECT_TRUE(HubSettings::from_environment().offline);
  env.set("HF_HUB_ETAG_TIMEOUT", "soon");
  EXPECT_THROW(HubSettings::from_environment(), InvalidArgument);
}

TEST(HttpUrl, ParsesAndResolvesRedirects) {
  const http::Url url = http::Url::parse("https://huggingface.co/org/m/resolve/main/a%20b?x=1#f");
  EXPECT_EQ(url.host, "huggingface.co");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.target, "/org/m/resolve/main/a%20b?x=1");
  EXPECT_EQ(url.origin(), "https://huggingface.co:443");
  EXPECT_EQ(url.resolve("/new/resolve/main/x").str(), "https://huggingface.co/new/resolve/main/x");
  EXPECT_EQ(url.resolve("https://cdn.example/abc?sig=1").origin(), "https://cdn.example:443");
  EXPECT_EQ(url.resolve("//cdn.example:8443/y").str(), "https://cdn.example:8443/y");
  EXPECT_EQ(url.resolve("other").str(), "https://huggingface.co/org/m/resolve/main/other");
  EXPECT_EQ(http::Url::parse("http://[::1]:8080").origin(), "http://[::1]:8080");
  EXPECT_THROW(http::Url::parse("ftp://x/y"), InvalidArgument);
  EXPECT_THROW(http::Url::parse("http://user:pw@host/"), InvalidArgument);
  EXPECT_EQ(http::quote("refs/pr/1", ""), "refs%2Fpr%2F1");
  EXPECT_EQ(http::quote("1_Pooling/config.json"), "1_Pooling/config.json");
  EXPECT_EQ(http::quote("a b+c"), "a%20b%2Bc");
}

// What a hostile server sends in Location or other headers ends up in requests and in error
// messages: unsafe bytes are percent-encoded, so neither carries a terminal escape sequence,
// a space or raw invalid UTF-8 (found by fuzz/hub_http_fuzz).
TEST(HttpUrl, UnsafeBytesFromTheServerArePercentEncoded) {
  EXPECT_EQ(http::printable("a\x1b[31mb c\x7f\xf6%41"), "a%1B[31mb%20c%7F%F6%41");
  EXPECT_EQ(http::printable("/org/m/resolve/main/a%20b?x=1"), "/org/m/resolve/main/a%20b?x=1");
  const http::Url url = http::Url::parse("http://127.0.0.1:9/org/m/resolve/main/config.json");
  EXPECT_EQ(url.resolve("/blobs/\xf6\x1b x").str(), "http://127.0.0.1:9/blobs/%F6%1B%20x");
  EXPECT_EQ(url.resolve("http://127.0.0.1:8/caf\xc3\xa9").target, "/caf%C3%A9");
  try {
    http::Url::parse("http://\x1b[2J/x").resolve("ftp://\x1b");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Downloads

TEST_F(HubTest, DownloadsIntoAnEmptyCacheWithTheHubLayout) {
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  const std::string commit = hub_->commit("tiny-org/bert-tiny");
  const fs::path repo = repo_folder("tiny-org/bert-tiny");
  EXPECT_EQ(snapshot, repo / "snapshots" / commit);
  EXPECT_EQ(read(repo / "refs/main"), commit);
  EXPECT_EQ(list(repo / "refs"), std::vector<std::string>{"main"});
  EXPECT_TRUE(fs::exists(settings_.cache_dir / "CACHEDIR.TAG"));

  // Every file is a relative symlink into blobs/, named by the hub's ETag, with the bytes
  // the server holds.
  for (const std::string file :
       {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "modules.json",
        "1_Pooling/config.json"}) {
    SCOPED_TRACE(file);
    const fs::path pointer = snapshot / file;
    ASSERT_TRUE(fs::is_symlink(pointer));
    const http::Response head =
        http::head(settings_.endpoint + "/tiny-org/bert-tiny/resolve/main/" + file, {}, {});
    const bool lfs = file == "model.safetensors";
    std::string etag = *head.header(lfs ? "X-Linked-Etag" : "ETag");
    etag = etag.substr(1, etag.size() - 2);
    EXPECT_EQ(etag.size(), lfs ? 64u : 40u);
    const std::string up = file.find('/') != std::string::npos ? "../../../" : "../../";
    EXPECT_EQ(fs::read_symlink(pointer), fs::path(up + "blobs/" + etag));
    EXPECT_EQ(read(pointer), read(tiny_ / file));
  }
  // What the repo lacks is remembered, as huggingface_hub does, so no one asks again.
  for (const char* absent :
       {"tokenizer.json", "special_tokens_map.json", "sentence_bert_config.json"}) {
    EXPECT_TRUE(fs::is_regular_file(repo / ".no_exist" / commit / absent)) << absent;
  }
  EXPECT_EQ(list(repo / "blobs").size(), 6u);
  for (const std::string& blob : list(repo / "blobs")) {
    EXPECT_EQ(blob.find(".incomplete"), std::string::npos);
  }
  // The LFS file came from the CDN port, after a 302 on the hub.
  int cdn_gets = 0;
  for (const json& request : requests()) {
    if (request["server"] == "cdn") {
      ++cdn_gets;
      EXPECT_EQ(request["method"], "GET");
      EXPECT_NE(request["path"].get<std::string>().find("filename=model.safetensors"),
                std::string::npos);
    }
    EXPECT_TRUE(request["authorization"].is_null());  // no token configured
    EXPECT_EQ(request["user_agent"], "bertlite/0.1.0");
  }
  EXPECT_EQ(cdn_gets, 1);
  // Not a terminal: one summary line.
  const std::string out = log_.str();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("bertlite: downloaded tiny-org/bert-tiny from " + settings_.endpoint +
                     ": 6 files, 0.3 MB in "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(snapshot.string()), std::string::npos) << out;
}

TEST_F(HubTest, SecondResolutionMakesNoRequest) {
  const fs::path first = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  EXPECT_FALSE(requests().empty());
  hub_->reset();
  log_.str("");
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny"), first);
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny@main"), first);
  EXPECT_TRUE(requests().empty()) << hub_->log().dump();
  EXPECT_EQ(log_.str(), "");  // nothing downloaded, nothing said
}

TEST_F(HubTest, OfflineUsesTheCacheOrFailsClearly) {
  settings_.offline = true;
  try {
    hub_model_snapshot(settings_, "tiny-org/bert-tiny");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_EQ(std::string(error.what()),
              "tiny-org/bert-tiny: config.json is not in the Hugging Face cache " +
                  repo_folder("tiny-org/bert-tiny").string() +
                  " and HF_HUB_OFFLINE=1 forbids downloading it");
  }
  EXPECT_THROW(hub_download(settings_, "tiny-org/bert-tiny", "vocab.txt"), IoError);
  EXPECT_TRUE(requests().empty());

  settings_.offline = false;
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  hub_->reset();
  settings_.offline = true;
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny"), snapshot);
  EXPECT_EQ(hub_download(settings_, "tiny-org/bert-tiny", "vocab.txt"), snapshot / "vocab.txt");
  EXPECT_EQ(hub_try_download(settings_, "tiny-org/bert-tiny", "tokenizer.json"), std::nullopt);
  EXPECT_EQ(hub_cached_file(settings_, "tiny-org/bert-tiny", "config.json"),
            snapshot / "config.json");
  EXPECT_EQ(hub_cached_file(settings_, "tiny-org/bert-tiny", "tokenizer.json"), std::nullopt);
  EXPECT_TRUE(requests().empty());
}

TEST_F(HubTest, OfflineWithAPartialCacheReturnsTheSnapshot) {
  const fs::path config = hub_download(settings_, "tiny-org/bert-tiny", "config.json");
  settings_.offline = true;
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny"), config.parent_path());
  EXPECT_EQ(
      hub_model_snapshot(settings_, "tiny-org/bert-tiny@" + hub_->commit("tiny-org/bert-tiny")),
      config.parent_path());
}

TEST_F(HubTest, MissingConfigIsAClearErrorAndOptionalFilesAreQuiet) {
  try {
    hub_model_snapshot(settings_, "tiny-org/no-config");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_EQ(std::string(error.what()), "tiny-org/no-config: config.json not found on " +
                                             settings_.endpoint +
                                             "/tiny-org/no-config/resolve/main/config.json: 404");
  }
  EXPECT_FALSE(fs::exists(repo_folder("tiny-org/no-config") / "snapshots"));

  EXPECT_EQ(hub_try_download(settings_, "tiny-org/bert-tiny", "no-such-file.txt"), std::nullopt);
  EXPECT_THROW(hub_download(settings_, "tiny-org/bert-tiny", "no-such-file.txt"), IoError);
  EXPECT_EQ(log_.str(), "");

  try {
    hub_model_snapshot(settings_, "tiny-org/no-such-repo");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find(": 401 (the repository does not exist, or is private"),
              std::string::npos)
        << error.what();
  }
  try {
    hub_model_snapshot(settings_, "tiny-org/no-weights");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("tiny-org/no-weights: no weights on the hub"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(HubTest, TruncatedTransferLeavesNothingThenResumesWithRange) {
  hub_->truncate("model.safetensors", 100000);
  const fs::path repo = repo_folder("tiny-org/bert-tiny");
  const std::string commit = hub_->commit("tiny-org/bert-tiny");
  try {
    hub_model_snapshot(settings_, "tiny-org/bert-tiny");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("transfer ended after 100000 of 286256 bytes"), std::string::npos) << what;
    EXPECT_NE(what.find("run again to resume"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(repo / "snapshots" / commit / "model.safetensors"));
  std::vector<std::string> partial;
  for (const std::string& blob : list(repo / "blobs")) {
    if (blob.ends_with(".incomplete")) partial.push_back(blob);
  }
  ASSERT_EQ(partial.size(), 1u) << ::testing::PrintToString(list(repo / "blobs"));
  const fs::path incomplete = repo / "blobs" / partial[0];
  EXPECT_EQ(fs::file_size(incomplete), 100000u);
  const std::string blob_name = partial[0].substr(0, partial[0].size() - 11);
  EXPECT_FALSE(fs::exists(repo / "blobs" / blob_name));

  hub_->reset();
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  EXPECT_EQ(read(snapshot / "model.safetensors"), read(tiny_ / "model.safetensors"));
  EXPECT_FALSE(fs::exists(incomplete));
  EXPECT_TRUE(fs::is_regular_file(repo / "blobs" / blob_name));
  std::vector<std::string> ranges;
  for (const json& request : requests()) {
    if (request["server"] == "cdn")
      ranges.push_back(request["range"].is_null() ? "" : request["range"]);
  }
  EXPECT_EQ(ranges, std::vector<std::string>{"bytes=100000-"});
}

TEST_F(HubTest, TruncatedSmallFileFromTheHubItselfResumesToo) {
  hub_->truncate("vocab.txt", 100);
  EXPECT_THROW(hub_download(settings_, "tiny-org/bert-tiny", "vocab.txt"), IoError);
  EXPECT_EQ(hub_cached_file(settings_, "tiny-org/bert-tiny", "vocab.txt"), std::nullopt);
  hub_->reset();
  const fs::path vocab = hub_download(settings_, "tiny-org/bert-tiny", "vocab.txt");
  EXPECT_EQ(read(vocab), read(tiny_ / "vocab.txt"));
  bool resumed = false;
  for (const json& request : requests()) resumed = resumed || request["range"] == "bytes=100-";
  EXPECT_TRUE(resumed) << hub_->log().dump();
}

TEST_F(HubTest, CorruptPartialFileIsCaughtBySha256AndDiscarded) {
  const http::Response head =
      http::head(settings_.endpoint + "/tiny-org/bert-tiny/resolve/main/model.safetensors", {}, {});
  std::string sha = *head.header("X-Linked-Etag");
  sha = sha.substr(1, sha.size() - 2);
  const fs::path blobs = repo_folder("tiny-org/bert-tiny") / "blobs";
  write(blobs / (sha + ".incomplete"), std::string(1000, '\0'));  // not the file's first bytes
  try {
    hub_model_snapshot(settings_, "tiny-org/bert-tiny");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("does not match " + sha), std::string::npos)
        << error.what();
  }
  EXPECT_FALSE(fs::exists(blobs / (sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(blobs / sha));
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  EXPECT_EQ(read(snapshot / "model.safetensors"), read(tiny_ / "model.safetensors"));
}

TEST_F(HubTest, RevisionsGetTheirOwnRefAndShareBlobs) {
  const fs::path main_snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  hub_->reset();
  const fs::path v1 = hub_model_snapshot(settings_, "tiny-org/bert-tiny@v1");
  const fs::path repo = repo_folder("tiny-org/bert-tiny");
  const std::string v1_commit = hub_->commit("tiny-org/bert-tiny", "v1");
  EXPECT_NE(v1_commit, hub_->commit("tiny-org/bert-tiny"));
  EXPECT_EQ(v1, repo / "snapshots" / v1_commit);
  EXPECT_EQ(read(repo / "refs/v1"), v1_commit);
  EXPECT_NE(read(v1 / "config.json").find("bertlite_test_revision"), std::string::npos);
  EXPECT_EQ(read(main_snapshot / "config.json").find("bertlite_test_revision"), std::string::npos);
  // model.safetensors is the same blob for both commits: the CDN was not asked again.
  EXPECT_EQ(fs::read_symlink(v1 / "model.safetensors"),
            fs::read_symlink(main_snapshot / "model.safetensors"));
  for (const json& request : requests()) EXPECT_NE(request["server"], "cdn") << request.dump();
  // After config.json, files are fetched by the commit it named.
  for (const json& request : requests()) {
    const std::string path = request["path"];
    if (path.find("/config.json") != std::string::npos &&
        path.find("1_Pooling") == std::string::npos) {
      EXPECT_NE(path.find("/resolve/v1/"), std::string::npos) << path;
    } else {
      EXPECT_NE(path.find("/resolve/" + v1_commit + "/"), std::string::npos) << path;
    }
  }
  // A commit hash is a revision too, and needs no request once cached.
  hub_->reset();
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny@" + v1_commit), v1);
  EXPECT_TRUE(requests().empty());
  try {
    hub_model_snapshot(settings_, "tiny-org/bert-tiny@no-such-branch");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_EQ(std::string(error.what()),
              "tiny-org/bert-tiny: revision 'no-such-branch' not found on " + settings_.endpoint +
                  "/tiny-org/bert-tiny/resolve/no-such-branch/config.json: 404");
  }
}

TEST_F(HubTest, TokenGoesToTheHubButNotTheCdn) {
  EXPECT_THROW(hub_model_snapshot(settings_, "tiny-org/secret"), IoError);
  hub_->reset();
  settings_.token = kToken;
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/secret");
  EXPECT_EQ(read(snapshot / "model.safetensors"), read(tiny_ / "model.safetensors"));
  int hub_requests = 0;
  int cdn_requests = 0;
  for (const json& request : requests()) {
    if (request["server"] == "hub") {
      ++hub_requests;
      EXPECT_EQ(request["authorization"], std::string("Bearer ") + kToken);
    } else {
      ++cdn_requests;
      EXPECT_TRUE(request["authorization"].is_null()) << request.dump();
    }
  }
  EXPECT_GT(hub_requests, 5);
  EXPECT_EQ(cdn_requests, 1);
}

TEST_F(HubTest, ShardedWeightsFetchEveryShard) {
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/sharded");
  EXPECT_EQ(fs::file_size(snapshot / "model-00001-of-00002.safetensors"), 5000u);
  EXPECT_EQ(fs::file_size(snapshot / "model-00002-of-00002.safetensors"), 7000u);
  EXPECT_TRUE(fs::is_regular_file(snapshot / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(snapshot / "model.safetensors"));
  hub_->reset();
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/sharded"), snapshot);
  EXPECT_TRUE(requests().empty());
}

TEST_F(HubTest, NamesWithoutAnOrganisationWork) {
  const fs::path snapshot = hub_model_snapshot(settings_, "distilbert-base-uncased");
  EXPECT_EQ(snapshot.parent_path().parent_path(),
            settings_.cache_dir / "models--distilbert-base-uncased");
  EXPECT_EQ(read(snapshot / "config.json"), read(kEncoderData / "distilbert_tiny/config.json"));
}

TEST_F(HubTest, RenamedRepoRedirectOnTheSameHostIsFollowed) {
  const fs::path snapshot = hub_model_snapshot(settings_, "old-org/bert-tiny");
  EXPECT_EQ(snapshot,
            repo_folder("old-org/bert-tiny") / "snapshots" / hub_->commit("tiny-org/bert-tiny"));
  EXPECT_EQ(read(snapshot / "model.safetensors"), read(tiny_ / "model.safetensors"));
}

TEST_F(HubTest, ProgressBarOnATerminal) {
  settings_.progress_bar = true;
  hub_download(settings_, "tiny-org/bert-tiny", "model.safetensors");
  const std::string out = log_.str();
  EXPECT_NE(out.find("\rtiny-org/bert-tiny: model.safetensors  ["), std::string::npos) << out;
  EXPECT_NE(out.find("100%  0.3 MB / 0.3 MB"), std::string::npos) << out;
  EXPECT_EQ(out.find("bertlite: downloaded"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
}

TEST_F(HubTest, ResolveModelFallsBackToTheHubAfterLocalFolders) {
  TempDir empty;
  ScopedEnv env;
  for (const char* name :
       {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"}) {
    env.set(name, std::nullopt);
  }
  env.set("HF_HOME", settings_.cache_dir.parent_path().string());
  env.set("HF_ENDPOINT", settings_.endpoint);
  env.set("BERTLITE_MODELS", empty.path().string());
  const fs::path snapshot = resolve_model("distilbert-base-uncased");
  EXPECT_EQ(snapshot, settings_.cache_dir / "models--distilbert-base-uncased" / "snapshots" /
                          hub_->commit("distilbert-base-uncased"));
  hub_->reset();
  env.set("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(resolve_model("distilbert-base-uncased"), snapshot);
  EXPECT_TRUE(requests().empty());

  // A local folder of that name still wins.
  fs::create_directories(empty.path() / "distilbert-base-uncased");
  EXPECT_EQ(resolve_model("distilbert-base-uncased"), empty.path() / "distilbert-base-uncased");
}

TEST_F(HubTest, ResolveModelErrorsNameTheHubAndTheFolders) {
  ScopedEnv env;
  env.set("HF_HOME", settings_.cache_dir.parent_path().string());
  env.set("HF_HUB_CACHE", std::nullopt);
  env.set("HUGGINGFACE_HUB_CACHE", std::nullopt);
  env.set("HF_ENDPOINT", settings_.endpoint);
  env.set("HF_HUB_OFFLINE", std::nullopt);
  env.set("TRANSFORMERS_OFFLINE", std::nullopt);
  try {
    resolve_model("tiny-org/no-config");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    const std::string what = error.what();
    EXPECT_EQ(what.rfind("tiny-org/no-config: config.json not found on " + settings_.endpoint, 0),
              0u)
        << what;
    EXPECT_NE(what.find("is not a folder, nor in "), std::string::npos) << what;
  }
  env.set("HF_HUB_OFFLINE", "1");
  try {
    resolve_model("tiny-org/bert-tiny");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("HF_HUB_OFFLINE=1 forbids downloading"),
              std::string::npos)
        << error.what();
  }
  EXPECT_TRUE(requests().size() == 1) << hub_->log().dump();  // the no-config HEAD only
}

// ---------------------------------------------------------------------------------------------
// Interop with Python's huggingface_hub, both ways

constexpr const char* kModelFiles =
    R"(["config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",)"
    R"( "pytorch_model.bin.index.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json",)"
    R"( "special_tokens_map.json", "sentence_bert_config.json", "modules.json",)"
    R"( "1_Pooling/config.json"])";

TEST_F(HubTest, ReadsACacheThatHuggingFaceHubFilled) {
  // Python downloads what bertlite would (stopping at the first weights file, as bertlite
  // does); misses land in .no_exist/.
  const std::string script = std::string(R"(
import json
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
paths = {}
for f in )") + kModelFiles + R"(:
    if f.startswith(("model.safetensors.", "pytorch_model")):
        continue
    try:
        paths[f] = hf_hub_download("tiny-org/bert-tiny", f)
    except EntryNotFoundError:
        paths[f] = None
print(json.dumps(paths))
)";
  const fs::path hf_home = settings_.cache_dir.parent_path();
  const json paths = run_python(script, {{"HF_HOME", hf_home.string()},
                                         {"HF_ENDPOINT", settings_.endpoint},
                                         {"HOME", root_.path().string()}});
  ASSERT_TRUE(paths["config.json"].is_string()) << paths.dump();
  const fs::path python_snapshot = fs::path(paths["config.json"].get<std::string>()).parent_path();

  hub_->reset();
  settings_.offline = true;
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny"), python_snapshot);
  settings_.offline = false;
  EXPECT_EQ(hub_model_snapshot(settings_, "tiny-org/bert-tiny"), python_snapshot);
  EXPECT_TRUE(requests().empty()) << hub_->log().dump();
  EXPECT_EQ(hub_cached_file(settings_, "tiny-org/bert-tiny", "1_Pooling/config.json"),
            python_snapshot / "1_Pooling/config.json");
  EXPECT_EQ(read(python_snapshot / "model.safetensors"), read(tiny_ / "model.safetensors"));
}

TEST_F(HubTest, HuggingFaceHubReadsWhatBertliteDownloaded) {
  const fs::path snapshot = hub_model_snapshot(settings_, "tiny-org/bert-tiny");
  const fs::path v1 = hub_model_snapshot(settings_, "tiny-org/bert-tiny@v1");
  hub_->reset();
  const std::string script = std::string(R"(
import json
from huggingface_hub import hf_hub_download, try_to_load_from_cache, scan_cache_dir
from huggingface_hub.file_download import _CACHED_NO_EXIST
out = {"download": {}, "cached": {}}
for f in )") + kModelFiles + R"(:
    cached = try_to_load_from_cache("tiny-org/bert-tiny", f)
    out["cached"][f] = "NO_EXIST" if cached is _CACHED_NO_EXIST else cached
    if isinstance(cached, str):
        out["download"][f] = hf_hub_download("tiny-org/bert-tiny", f, local_files_only=True)
out["v1"] = hf_hub_download("tiny-org/bert-tiny", "config.json", revision="v1")
info = scan_cache_dir()
out["warnings"] = [str(w) for w in info.warnings]
repo = next(r for r in info.repos if r.repo_id == "tiny-org/bert-tiny")
out["refs"] = sorted(repo.refs)
out["revisions"] = sorted(r.commit_hash for r in repo.revisions)
out["nb_files"] = repo.nb_files
print(json.dumps(out))
)";
  const json out = run_python(script, {{"HF_HOME", settings_.cache_dir.parent_path().string()},
                                       {"HF_ENDPOINT", settings_.endpoint},
                                       {"HF_HUB_OFFLINE", "1"},
                                       {"HOME", root_.path().string()}});
  for (const char* file : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
                           "modules.json", "1_Pooling/config.json"}) {
    EXPECT_EQ(out["cached"][file], (snapshot / file).string()) << file;
    EXPECT_EQ(out["download"][file], (snapshot / file).string()) << file;
  }
  for (const char* file : {"tokenizer.json", "special_tokens_map.json", "sentence_bert_config.json",
                           "model.safetensors.index.json"}) {
    // bertlite stops at the first weights file it finds, so the index's fate is not known.
    const bool known = std::string(file) != "model.safetensors.index.json";
    EXPECT_EQ(out["cached"][file], known ? json("NO_EXIST") : json(nullptr)) << file;
  }
  EXPECT_EQ(out["v1"], (v1 / "config.json").string());
  EXPECT_EQ(out["warnings"], json::array()) << out.dump();
  EXPECT_EQ(out["refs"], json({"main", "v1"}));
  EXPECT_EQ(out["revisions"].size(), 2u);
  EXPECT_EQ(out["nb_files"], 7);  // 6 files of main, plus v1's own config.json
  EXPECT_TRUE(requests().empty()) << hub_->log().dump();
}

}  // namespace
}  // namespace bertlite::io
