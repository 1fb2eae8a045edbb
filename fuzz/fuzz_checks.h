// fuzz/fuzz_checks.h - what the fuzz targets share: an independent UTF-8 oracle, a hard
// invariant check, the Encoding shape checks, and a scratch folder for readers that only take
// a path.
//
// A violated invariant traps (SIGILL) rather than throwing, so libFuzzer and the replay test
// both report it as a crash with a stack, and no catch block in a harness can swallow it.
// The oracle here deliberately does not call src/text: the fuzzers check the library against
// it, not against itself.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include "bertlite/tokenizer.h"

namespace bertlite::fuzz {

// Says which invariant broke: on stderr, and appended to the file BERTLITE_FUZZ_FINDINGS names
// (fuzz/run.sh sets it). libFuzzer's fork mode keeps only "deadly signal" of a crashed job's
// output, so without the file a finding that does not replay (a race, a timing) leaves no trace
// of what it was.
inline void report_violation(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, condition);
  if (const char* findings = std::getenv("BERTLITE_FUZZ_FINDINGS")) {
    if (std::FILE* out = std::fopen(findings, "a")) {
      std::fprintf(out, "pid %d: %s:%d: invariant violated: %s\n", static_cast<int>(::getpid()),
                   file, line, condition);
      std::fclose(out);
    }
  }
}

// Reports what broke and traps. A macro so the message names the line of the harness.
#define FUZZ_CHECK(condition)                                             \
  do {                                                                    \
    if (!(condition)) {                                                   \
      ::bertlite::fuzz::report_violation(__FILE__, __LINE__, #condition); \
      __builtin_trap();                                                   \
    }                                                                     \
  } while (0)

// Byte offset of the first ill-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or npos. Written from the table in RFC 3629 section 4, by lead
// byte, independently of text::find_invalid_utf8.
inline std::size_t first_invalid_utf8(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = byte(i);
    if (c <= 0x7F) {
      ++i;
      continue;
    }
    // Allowed range of the second byte and the sequence length, per lead byte.
    unsigned char lo = 0x80, hi = 0xBF;
    std::size_t length = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c == 0xE0) {
      length = 3, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      length = 3;
    } else if (c == 0xED) {
      length = 3, hi = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (c == 0xF0) {
      length = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      length = 4;
    } else if (c == 0xF4) {
      length = 4, hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + length > s.size()) return i;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// True when `offset` is 0, the end of `s`, or a byte that starts a UTF-8 sequence.
inline bool on_utf8_boundary(std::string_view s, std::size_t offset) {
  if (offset == 0 || offset == s.size()) return true;
  return offset < s.size() && (static_cast<unsigned char>(s[offset]) & 0xC0) != 0x80;
}

// Every vector of an Encoding has size() entries.
inline void check_same_sizes(const Encoding& e) {
  FUZZ_CHECK(e.type_ids.size() == e.size());
  FUZZ_CHECK(e.attention_mask.size() == e.size());
  FUZZ_CHECK(e.special_tokens_mask.size() == e.size());
  FUZZ_CHECK(e.offsets.size() == e.size());
}

inline bool same_encoding(const Encoding& a, const Encoding& b) {
  return a.ids == b.ids && a.type_ids == b.type_ids && a.attention_mask == b.attention_mask &&
         a.special_tokens_mask == b.special_tokens_mask && a.offsets == b.offsets &&
         a.truncated == b.truncated;
}

// A folder of this process's own (libFuzzer's fork mode runs several processes at once) under
// the system temp folder, emptied on first use; readers that only take a path read from it.
inline const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    const std::filesystem::path f =
        std::filesystem::temp_directory_path() / ("bertlite-fuzz-" + std::to_string(::getpid()));
    std::error_code ignored;
    std::filesystem::remove_all(f, ignored);
    std::filesystem::create_directories(f);
    return f;
  }();
  return folder;
}

// Writes `bytes` to scratch_folder() / `name` (creating parent folders) and returns the path.
inline std::filesystem::path write_scratch_file(const std::filesystem::path& name,
                                                std::string_view bytes) {
  const std::filesystem::path path = scratch_folder() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    // Not a finding: the harness cannot run.
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Removes scratch_folder() / `name` if it exists.
inline void remove_scratch_file(const std::filesystem::path& name) {
  std::error_code ignored;
  std::filesystem::remove_all(scratch_folder() / name, ignored);
}

// With BERTLITE_FUZZ_VERBOSE set, harnesses say how far an input got (a seed that never reaches
// the reader's success path is a seed that tests less than it seems to); silent otherwise.
inline void trace(const char* what, std::string_view detail = {}) {
  static const bool on = std::getenv("BERTLITE_FUZZ_VERBOSE") != nullptr;
  if (on) std::fprintf(stderr, "fuzz: %s %s\n", what, std::string(detail).c_str());
}

// Runs one fuzz input. Only bertlite::Error may leave the library, and each harness catches
// those where they are expected; any other exception escaping `run` is a finding.
template <typename Run>
int run_guarded(const Run& run, const std::uint8_t* data, std::size_t size) {
  try {
    run(data, size);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "unexpected exception %s: %s\n", typeid(error).name(), error.what());
    __builtin_trap();
  } catch (...) {
    std::fprintf(stderr, "unexpected exception of unknown type\n");
    __builtin_trap();
  }
  return 0;
}

}  // namespace bertlite::fuzz
