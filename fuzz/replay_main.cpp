// fuzz/replay_main.cpp - a main() for the fuzz targets without libFuzzer: runs
// LLVMFuzzerTestOneInput once on every file named on the command line or found (recursively)
// in the folders named there.
//
// Any compiler builds it, so CTest replays the committed seeds and crash reproducers in every
// build - the release one and the ASan + UBSan one alike - and a fixed bug stays fixed. A
// harness that finds a problem traps, which fails the test with the file's name printed just
// before. Missing folders are skipped (fuzz/regressions/<target>/ exists only once something
// was found), but replaying nothing at all is an error, so losing the seeds cannot pass.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> input_files(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path path = argv[i];
    if (fs::is_regular_file(path)) {
      files.push_back(path);
    } else if (fs::is_directory(path)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());  // a stable order makes failures reproducible
      files.insert(files.end(), found.begin(), found.end());
    } else {
      std::fprintf(stderr, "replay: %s does not exist, skipped\n", path.c_str());
    }
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  const std::vector<fs::path> files = input_files(argc, argv);
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files found\n");
    return 1;
  }
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
      return 1;
    }
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replay: %zu inputs, no invariant violated\n", files.size());
  return 0;
}
