#include "io/model_path.h"

#include <cstdlib>

#include "bertlite/error.h"
#include "io/hub.h"

namespace bertlite::io {
namespace fs = std::filesystem;

std::vector<fs::path> model_search_path() {
  std::vector<fs::path> folders;
  if (const char* env = std::getenv("BERTLITE_MODELS"); env && *env) {
    std::string list = env;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) folders.emplace_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  folders.emplace_back(BERTLITE_MODELS_DIR);
  return folders;
}

fs::path resolve_model(const std::string& name_or_path) {
  if (name_or_path.empty()) throw InvalidArgument("--model: empty model name");
  const fs::path direct(name_or_path);
  if (fs::is_directory(direct)) return direct;
  std::vector<std::string> names{name_or_path};
  if (auto slash = name_or_path.rfind('/'); slash != std::string::npos) {
    names.push_back(name_or_path.substr(slash + 1));
  }
  std::string searched;
  for (const fs::path& folder : model_search_path()) {
    for (const std::string& name : names) {
      const fs::path candidate = folder / name;
      if (fs::is_directory(candidate)) return candidate;
    }
    searched += (searched.empty() ? "" : ", ") + folder.string();
  }
  if (is_hub_model_name(name_or_path)) {
    try {
      return hub_model_snapshot(HubSettings::from_environment(), name_or_path);
    } catch (const Error& error) {
      throw IoError(std::string(error.what()) + " (and '" + name_or_path +
                    "' is not a folder, nor in " + searched + ")" +
                    (name_or_path == kDefaultModel
                         ? "; run scripts/setup.sh to install the default model"
                         : ""));
    }
  }
  throw IoError("model '" + name_or_path + "' not found: not a folder, and not in " + searched +
                " (run scripts/setup.sh to install the default model)");
}

}  // namespace bertlite::io
