#include "io/treebank.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>

#include "bertlite/error.h"
#include "util/file.h"
#include "util/utf8.h"

namespace bertlite::io {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::size_t skip_spaces(std::string_view line, std::size_t pos) {
  while (pos < line.size() && is_space(line[pos])) ++pos;
  return pos;
}

// A node of one tree: its label and its leaves, words[begin, end).
struct Node {
  int label;
  std::size_t begin, end;
};

// Parses one tree (a non-blank line) into `nodes`, in pre-order (the root first), and the leaf
// tokens into `words` (views into `line`). `fail` throws with the line's prefix.
template <typename Fail>
void parse_tree(std::string_view line, std::vector<Node>& nodes,
                std::vector<std::string_view>& words, const Fail& fail) {
  nodes.clear();
  words.clear();
  std::vector<std::size_t> open;  // indices into nodes of the nodes not yet closed
  const auto column = [](std::size_t pos) { return "column " + std::to_string(pos + 1); };
  const auto found = [&](std::size_t pos) {
    if (pos >= line.size()) return std::string("the end of the line");
    std::string quoted(3, '\'');  // built in place: GCC 12 warns (-Wrestrict) on "'" + s + "'"
    quoted[1] = line[pos];
    return quoted;
  };
  const auto unclosed = [&](std::size_t n) {
    fail("unbalanced parentheses: " + std::to_string(n) + " node" + (n == 1 ? "" : "s") +
         " not closed at the end of the line");
  };
  std::size_t pos = skip_spaces(line, 0);
  if (line[pos] != '(') fail("expected '(' at " + column(pos) + ", found " + found(pos));
  while (true) {  // line[pos] == '(': a node starts
    ++pos;
    const std::size_t label_pos = pos;
    int label = 0;
    while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') {
      label = std::min(label * 10 + (line[pos] - '0'), 1000);
      ++pos;
    }
    if (pos == label_pos) {
      fail("expected a label 0-4 at " + column(label_pos) + ", found " + found(label_pos));
    }
    if (label > 4 || pos - label_pos > 1) {
      fail("label " + std::string(line.substr(label_pos, pos - label_pos)) + " at " +
           column(label_pos) + " is not 0-4");
    }
    if (pos >= line.size() || !is_space(line[pos])) {
      fail("expected a space after the label at " + column(pos) + ", found " + found(pos));
    }
    pos = skip_spaces(line, pos);
    if (pos < line.size() && line[pos] == '(') {  // an inner node: its children follow
      open.push_back(nodes.size());
      nodes.push_back({label, words.size(), words.size()});
      continue;
    }
    // A leaf: one or more words up to ')'.
    const std::size_t first_word = words.size();
    while (pos < line.size() && line[pos] != ')') {
      if (line[pos] == '(') fail("a leaf's words are followed by '(' at " + column(pos));
      const std::size_t start = pos;
      while (pos < line.size() && !is_space(line[pos]) && line[pos] != '(' && line[pos] != ')')
        ++pos;
      words.push_back(line.substr(start, pos - start));
      pos = skip_spaces(line, pos);
    }
    if (pos >= line.size()) unclosed(open.size() + 1);
    if (words.size() == first_word) fail("a node with no word or subtree at " + column(pos));
    nodes.push_back({label, first_word, words.size()});
    ++pos;  // the leaf's ')'
    // Close the inner nodes that end here, until the next child starts or the tree ends.
    while (!open.empty()) {
      pos = skip_spaces(line, pos);
      if (pos >= line.size()) unclosed(open.size());
      if (line[pos] == '(') break;
      if (line[pos] != ')') {
        fail("expected '(' or ')' at " + column(pos) + ", found " + found(pos));
      }
      nodes[open.back()].end = words.size();
      open.pop_back();
      ++pos;
    }
    if (open.empty()) break;
  }
  pos = skip_spaces(line, pos);
  if (pos < line.size()) {
    if (line[pos] == ')') fail("unbalanced parentheses: ')' at " + column(pos) + " closes nothing");
    fail("text after the tree at " + column(pos));
  }
}

std::string_view unescape(std::string_view word) {
  if (word == "-LRB-") return "(";
  if (word == "-RRB-") return ")";
  if (word == "-LSB-") return "[";
  if (word == "-RSB-") return "]";
  if (word == "-LCB-") return "{";
  if (word == "-RCB-") return "}";
  return word;
}

void append_plain(std::string& out, std::string_view word) {
  word = unescape(word);
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (word[i] == '\\' && i + 1 < word.size() && (word[i + 1] == '/' || word[i + 1] == '*')) {
      ++i;
    }
    out.push_back(word[i]);
  }
}

// data/sst2's rule (Kim 2014, clean_str_sst) on the raw tokens: keep A-Za-z0-9(),!?'` and
// turn the rest into single spaces, trim, lower-case.
void append_sst2_tsv(std::string& out, std::string_view text) {
  bool space = false;  // a space is owed before the next kept character
  for (const char c : text) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '(' || c == ')' || c == ',' || c == '!' || c == '?' || c == '\'' ||
                      c == '`';
    if (!keep) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
}

std::string node_text(const std::vector<std::string_view>& words, const Node& node,
                      TreebankText rule) {
  std::string out;
  if (rule == TreebankText::kPlain) {
    for (std::size_t w = node.begin; w < node.end; ++w) {
      if (w > node.begin) out.push_back(' ');
      append_plain(out, words[w]);
    }
  } else {
    std::string raw;
    for (std::size_t w = node.begin; w < node.end; ++w) {
      if (w > node.begin) raw.push_back(' ');
      raw += words[w];
    }
    append_sst2_tsv(out, raw);
  }
  return out;
}

}  // namespace

std::vector<TreebankExample> parse_treebank(std::string_view text, const std::string& source,
                                            const TreebankOptions& options) {
  if (const std::size_t bad = util::find_invalid_utf8(text); bad != std::string_view::npos) {
    const std::size_t line =
        1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    throw ParseError(source + ":" + std::to_string(line) + ": invalid UTF-8 at byte " +
                     std::to_string(bad) + " of the file");
  }
  std::vector<TreebankExample> examples;
  std::unordered_set<std::string> seen;  // phrase texts already kept
  std::vector<Node> nodes;
  std::vector<std::string_view> words;
  std::size_t start = 0, line_number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    parse_tree(line, nodes, words, [&](const std::string& message) {
      throw ParseError(source + ":" + std::to_string(line_number) + ": " + message);
    });
    const std::size_t count = options.phrases ? nodes.size() : 1;
    for (std::size_t n = 0; n < count; ++n) {
      int label = nodes[n].label;
      if (options.task == TreebankTask::kSst2) {
        if (label == 2) continue;
        label = label < 2 ? 0 : 1;
      }
      std::string phrase = node_text(words, nodes[n], options.text);
      if (options.phrases) {
        if (phrase.empty() || !seen.insert(phrase).second) continue;
      }
      examples.push_back({std::move(phrase), label});
    }
  }
  return examples;
}

std::vector<TreebankExample> read_treebank(const std::filesystem::path& file,
                                           const TreebankOptions& options) {
  return parse_treebank(util::read_file(file), file.string(), options);
}

std::vector<std::string> treebank_label_names(TreebankTask task) {
  if (task == TreebankTask::kSst2) return {"negative", "positive"};
  return {"very negative", "negative", "neutral", "positive", "very positive"};
}

bool looks_like_treebank(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::string head(3, '\0');
  in.read(head.data(), 3);
  head.resize(static_cast<std::size_t>(in.gcount()));
  if (head == "\xEF\xBB\xBF") head.clear();  // the byte order mark
  std::size_t i = 0;
  const auto next = [&](char& c) {
    if (i < head.size()) {
      c = head[i++];
      return true;
    }
    return static_cast<bool>(in.get(c));
  };
  char c = 0;
  while (next(c)) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
    if (c != '(') return false;
    return next(c) && c >= '0' && c <= '9';
  }
  return false;
}

}  // namespace bertlite::io
