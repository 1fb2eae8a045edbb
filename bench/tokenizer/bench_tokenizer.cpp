// bench/tokenizer/bench_tokenizer.cpp - times Tokenizer::encode_batch over a corpus file.
//
// Reads a corpus (one text per line) and loads a model folder's tokenizer, both outside the
// timed region; encodes the whole corpus once to warm up (page faults, the per-thread scratch
// buffers, caches), then `--repeat` more times, timing each call with a steady clock. Each
// call is encode_batch with special tokens, no truncation and no padding - the same work as
// Hugging Face's `Tokenizer.encode_batch` with no_truncation()/no_padding(). Only the call is
// timed: building the views into the corpus and freeing the result are not.
//
// Prints one JSON line: {"impl", "threads", "bytes", "texts", "tokens", "seconds": [...],
// "cpu_seconds": [...], "median", "mb_per_s", "tokens_per_s"} (MB = 10^6 bytes of text,
// newlines not counted). cpu_seconds is the process's CPU time per repetition, all threads
// summed: on a loaded machine it leaves out the time the process waited for a core.
// With --ids-out it also writes the ids of the last repetition for bench_tokenizer.py to
// compare with Hugging Face: int64 text count, then one uint32 length per text, then every
// text's int32 ids, all little-endian.
//
// Driven by bench_tokenizer.py; see bench/README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "io/model_path.h"
#include "util/file.h"
#include "util/threads.h"

namespace {

// Lines of `corpus` as views into it. A trailing '\r' is dropped, and so is the empty "line"
// after a final newline, exactly as bench_tokenizer.py splits the file for Hugging Face.
std::vector<std::string_view> split_lines(std::string_view corpus) {
  std::vector<std::string_view> lines;
  std::size_t begin = 0;
  while (begin < corpus.size()) {
    std::size_t end = corpus.find('\n', begin);
    if (end == std::string_view::npos) end = corpus.size();
    std::string_view line = corpus.substr(begin, end - begin);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    begin = end + 1;
  }
  return lines;
}

// CPU time of the whole process (every thread), in seconds.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::size_t count_tokens(const std::vector<bertlite::Encoding>& batch) {
  std::size_t tokens = 0;
  for (const auto& e : batch) tokens += e.size();
  return tokens;
}

// The --ids-out format described at the top of the file.
void write_ids(const std::filesystem::path& path, const std::vector<bertlite::Encoding>& batch) {
  static_assert(std::endian::native == std::endian::little, "the ids file is little-endian");
  bertlite::util::write_file_atomic(path, [&](std::ostream& out) {
    const auto count = static_cast<std::int64_t>(batch.size());
    out.write(reinterpret_cast<const char*>(&count), sizeof count);
    for (const auto& e : batch) {
      const auto length = static_cast<std::uint32_t>(e.size());
      out.write(reinterpret_cast<const char*>(&length), sizeof length);
    }
    for (const auto& e : batch) {
      out.write(reinterpret_cast<const char*>(e.ids.data()),
                static_cast<std::streamsize>(e.ids.size() * sizeof(std::int32_t)));
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times bertlite's Tokenizer::encode_batch over a corpus (one text per line)."};
  std::string model = bertlite::io::kDefaultModel;
  std::string corpus_path;
  std::string ids_out;
  int threads = 1;
  int repeat = 5;
  app.add_option("--model", model, "Model folder or name")->capture_default_str();
  app.add_option("--corpus", corpus_path, "Corpus file, one text per line")->required();
  app.add_option("--threads", threads, "Threads for encode_batch (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--repeat", repeat, "Timed repetitions after one warm-up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--ids-out", ids_out, "Write the ids of the last repetition to this file");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::string corpus = bertlite::util::read_file(corpus_path);
    const std::vector<std::string_view> texts = split_lines(corpus);
    std::size_t bytes = 0;
    for (std::string_view text : texts) bytes += text.size();
    const auto tokenizer = bertlite::Tokenizer::from_folder(bertlite::io::resolve_model(model));
    const int used_threads = bertlite::util::resolve_threads(threads);

    bertlite::EncodeOptions options;  // special tokens on, no truncation, no padding
    const std::span<const std::string_view> batch_in(texts);
    const std::size_t tokens = count_tokens(tokenizer.encode_batch(batch_in, options, threads));

    std::vector<double> seconds, cpu_seconds;
    std::vector<bertlite::Encoding> last;
    for (int r = 0; r < repeat; ++r) {
      last = {};  // free the previous result before the clock starts
      const double cpu_start = process_cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      std::vector<bertlite::Encoding> result = tokenizer.encode_batch(batch_in, options, threads);
      const auto stop = std::chrono::steady_clock::now();
      cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
      seconds.push_back(std::chrono::duration<double>(stop - start).count());
      // A repetition that disagrees with the warm-up would make the timings meaningless.
      if (count_tokens(result) != tokens) {
        std::cerr << "bench_tokenizer: repetition " << r << " made " << count_tokens(result)
                  << " tokens, the warm-up " << tokens << '\n';
        return 1;
      }
      last = std::move(result);
    }
    if (!ids_out.empty()) write_ids(ids_out, last);

    const double mid = median(seconds);
    nlohmann::json report;
    report["impl"] = "bertlite";
    report["threads"] = used_threads;
    report["bytes"] = bytes;
    report["texts"] = texts.size();
    report["tokens"] = tokens;
    report["seconds"] = seconds;
    report["cpu_seconds"] = cpu_seconds;
    report["median"] = mid;
    report["mb_per_s"] = static_cast<double>(bytes) / mid / 1e6;
    report["tokens_per_s"] = static_cast<double>(tokens) / mid;
    std::cout << report.dump() << '\n';
  } catch (const bertlite::Error& error) {
    std::cerr << "bench_tokenizer: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
