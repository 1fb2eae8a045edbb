// io/hub.h - Hugging Face Hub model names -> local folders, through the hub's own cache.
//
// `distilbert-base-uncased`, `org/name`, `name@revision` and `org/name@revision` resolve to
// a snapshot folder of the standard cache that Python's huggingface_hub also reads and writes
// (the layout of huggingface_hub 2.4.0's file_download.py):
//
//   $HF_HUB_CACHE/models--org--name/
//     blobs/<etag>                      file contents, named by git sha1 or LFS sha256
//     refs/<revision>                   the commit hash a branch or tag pointed to
//     snapshots/<commit>/<file>         relative symlinks -> ../../blobs/<etag>
//     .no_exist/<commit>/<file>         empty marker: the hub said this file does not exist
//   $HF_HUB_CACHE/.locks/models--org--name/<etag>.lock   flock()ed while a blob is written
//
// Downloads go to blobs/<etag>.incomplete and are renamed into place only when complete (and,
// for LFS files, when their sha256 matches), so an interrupted transfer never leaves a file
// in blobs/ or snapshots/; the next attempt resumes it with a Range request.
//
// Environment, as huggingface_hub reads it: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
// $HF_HOME/hub (HF_HOME defaults to $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface);
// HF_ENDPOINT (https://huggingface.co); HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1 (cache
// only, never the network); HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file
// ($HF_TOKEN_PATH or $HF_HOME/token); HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT (seconds).
//
// Unlike huggingface_hub, a model whose every file is already settled in the cache (present,
// or known absent) is used without asking the hub whether `main` moved: resolving a name the
// second time makes no request. Delete refs/<revision> to pick up a newer commit.
//
// Does not: list repos (no /api calls), download datasets or spaces, use Xet storage, proxies,
// or retry a failed transfer by itself (run again: it resumes).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace bertlite::io {

// Where hub files live and how they are fetched.
struct HubSettings {
  std::filesystem::path cache_dir;  // the folder holding models--org--name/
  std::string endpoint = "https://huggingface.co";
  std::string token;     // sent as "Authorization: Bearer ..." to the endpoint's origin only
  bool offline = false;  // never touch the network
  int etag_timeout_seconds = 10;      // HEAD requests
  int download_timeout_seconds = 10;  // longest silence while receiving a file
  std::ostream* log = nullptr;        // progress and summaries; nullptr: silent
  bool progress_bar = false;  // redraw a bar per file on `log` (a terminal) instead of one line

  // From the environment variables listed above; logs to stderr, with a bar if it is a tty.
  static HubSettings from_environment();
};

// A parsed model name: "org/name@revision" -> {"org/name", "revision"}.
struct HubModelName {
  std::string repo_id;            // "name" or "org/name"
  std::string revision = "main";  // branch, tag or commit hash
};

// Parses `name[@revision]` with huggingface_hub's repo id rules (letters, digits, '-', '_',
// '.', at most one '/', no "--" or "..", at most 96 characters). Throws InvalidArgument.
HubModelName parse_hub_model_name(std::string_view name);

// Whether `name` parses as a hub model name (a path like "./x" or "/a/b/c" does not).
bool is_hub_model_name(std::string_view name);

// <cache_dir>/models--org--name
std::filesystem::path hub_repo_folder(const HubSettings& settings, std::string_view repo_id);

// The cached copy of `filename` at `revision`, or nullopt; never touches the network
// (huggingface_hub's try_to_load_from_cache).
std::optional<std::filesystem::path> hub_cached_file(const HubSettings& settings,
                                                     std::string_view repo_id,
                                                     std::string_view filename,
                                                     std::string_view revision = "main");

// Fetches one file into the cache if needed and returns snapshots/<commit>/<filename>
// (huggingface_hub's hf_hub_download). nullopt when the hub answers that the file does not
// exist (404), which is recorded in .no_exist/. Throws IoError for everything else.
std::optional<std::filesystem::path> hub_try_download(const HubSettings& settings,
                                                      std::string_view repo_id,
                                                      std::string_view filename,
                                                      std::string_view revision = "main");

// Like hub_try_download, but a missing file is an IoError:
// "org/name: config.json not found on https://.../resolve/main/config.json: 404".
std::filesystem::path hub_download(const HubSettings& settings, std::string_view repo_id,
                                   std::string_view filename, std::string_view revision = "main");

// Fetches every file bertlite reads for the model `name[@revision]` and returns its snapshot
// folder: config.json (required); the weights (model.safetensors, else
// model.safetensors.index.json and its shards, else pytorch_model.bin or its index and
// shards); tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json; and
// for sentence-transformers models modules.json, sentence_bert_config.json and each module's
// config.json (1_Pooling/config.json). Optional files the hub lacks are skipped quietly.
// Offline, returns the cached snapshot if it has config.json, else throws IoError.
std::filesystem::path hub_model_snapshot(const HubSettings& settings, std::string_view name);

}  // namespace bertlite::io
