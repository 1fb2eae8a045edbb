// cli/lines.h - reading input texts for commands: arguments, a file, or standard input.
#pragma once

#include <string>
#include <vector>

namespace bertlite::cli {

// One line of input text and where it came from (for error messages).
struct InputLine {
  std::string text;
  std::size_t line_number;  // 1-based
};

// Reads lines from `path` ("-" = standard input), checking each is valid UTF-8: an error
// names the file, the line, and the byte offset in the file. A trailing '\r' is dropped.
std::vector<InputLine> read_lines(const std::string& path);

}  // namespace bertlite::cli
