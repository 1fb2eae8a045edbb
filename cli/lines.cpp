#include "lines.h"

#include <iostream>
#include <iterator>

#include "bertlite/error.h"
#include "text/unicode.h"
#include "util/file.h"

namespace bertlite::cli {

std::vector<InputLine> read_lines(const std::string& path) {
  std::string contents;
  std::string name = path;
  if (path == "-") {
    name = "<stdin>";
    contents.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    contents = util::read_file(path);
  }
  std::vector<InputLine> lines;
  std::size_t start = 0;
  while (start < contents.size()) {
    std::size_t end = contents.find('\n', start);
    if (end == std::string::npos) end = contents.size();
    std::string_view line(contents.data() + start, end - start);
    if (std::size_t bad = text::find_invalid_utf8(line); bad != std::string_view::npos) {
      throw ParseError(name + ":" + std::to_string(lines.size() + 1) + ": invalid UTF-8 at byte " +
                       std::to_string(start + bad) + " of the file");
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back({std::string(line), lines.size() + 1});
    start = end + 1;
  }
  return lines;
}

}  // namespace bertlite::cli
