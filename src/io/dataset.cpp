#include "io/dataset.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "bertlite/error.h"
#include "util/file.h"
#include "util/utf8.h"

namespace bertlite::io {
namespace {

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::vector<std::string> split_tsv(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    fields.emplace_back(
        line.substr(start, tab == std::string_view::npos ? line.npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

void parse_csv(std::string_view text, Table& table) {
  std::size_t pos = 0, line = 1;
  while (pos < text.size()) {
    std::vector<std::string> fields;
    const std::size_t row_line = line;
    std::string field;
    bool row_done = false;
    while (!row_done) {
      field.clear();
      if (pos < text.size() && text[pos] == '"') {
        const std::size_t quote_line = line;
        ++pos;
        while (true) {
          if (pos >= text.size()) {
            throw ParseError(table.source + ":" + std::to_string(quote_line) +
                             ": quoted field is not closed");
          }
          if (text[pos] == '"') {
            if (pos + 1 < text.size() && text[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          if (text[pos] == '\n') ++line;
          field.push_back(text[pos++]);
        }
        // After the closing quote: a comma, the end of the line (LF or CRLF) or of the text. A
        // CR alone is not a line end here (nor in an unquoted field, which keeps it), so the
        // byte after it must not be taken for the separator (dataset_fuzz found that byte,
        // the lead byte of a UTF-8 character, skipped as if it were the comma).
        const auto closes_the_field = [&](std::size_t at) {
          if (at >= text.size() || text[at] == ',' || text[at] == '\n') return true;
          return text[at] == '\r' && (at + 1 == text.size() || text[at + 1] == '\n');
        };
        if (!closes_the_field(pos)) {
          throw ParseError(table.source + ":" + std::to_string(line) +
                           ": unexpected character after a closing quote");
        }
      } else {
        while (pos < text.size() && text[pos] != ',' && text[pos] != '\n')
          field.push_back(text[pos++]);
        if (!field.empty() && field.back() == '\r') field.pop_back();
      }
      fields.push_back(field);
      if (pos < text.size() && text[pos] == '\r') ++pos;
      if (pos >= text.size() || text[pos] == '\n') {
        row_done = true;
        ++pos;
        ++line;
      } else {
        ++pos;  // the comma
      }
    }
    table.rows.push_back(std::move(fields));
    table.line_numbers.push_back(row_line);
  }
}

}  // namespace

TableFormat parse_table_format(const std::string& name) {
  if (name == "auto") return TableFormat::kAuto;
  if (name == "text" || name == "plain") return TableFormat::kPlain;
  if (name == "tsv") return TableFormat::kTsv;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "jsonl") return TableFormat::kJsonl;
  throw InvalidArgument("format '" + name + "' is not one of: auto, text, tsv, csv, jsonl");
}

Table parse_table(std::string_view text, const std::string& source, const TableOptions& options) {
  Table table;
  table.source = source;
  if (const std::size_t bad = util::find_invalid_utf8(text); bad != std::string_view::npos) {
    const std::size_t line =
        1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    throw ParseError(source + ":" + std::to_string(line) + ": invalid UTF-8 at byte " +
                     std::to_string(bad) + " of the file");
  }
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    const std::size_t line =
        1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + nul, '\n'));
    throw ParseError(source + ":" + std::to_string(line) + ": a NUL byte at byte " +
                     std::to_string(nul) + " of the file: not a text file");
  }
  TableFormat format = options.format;
  if (format == TableFormat::kAuto) {
    const std::string ext = std::filesystem::path(source).extension().string();
    format = ext == ".tsv"                         ? TableFormat::kTsv
             : ext == ".csv"                       ? TableFormat::kCsv
             : (ext == ".jsonl" || ext == ".json") ? TableFormat::kJsonl
                                                   : TableFormat::kPlain;
  }
  if (format == TableFormat::kCsv) {
    parse_csv(text, table);
  } else {
    std::size_t start = 0, line = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view row = strip_cr(text.substr(start, end - start));
      ++line;
      start = end + 1;
      if (format == TableFormat::kPlain) {
        table.rows.push_back({std::string(row)});
      } else if (format == TableFormat::kTsv) {
        table.rows.push_back(split_tsv(row));
      } else {  // JSONL: blank lines are skipped
        if (row.find_first_not_of(" \t") == std::string_view::npos) continue;
        nlohmann::json object;
        try {
          object = nlohmann::json::parse(row);
        } catch (const nlohmann::json::exception& e) {
          throw ParseError(source + ":" + std::to_string(line) + ": not valid JSON: " + e.what());
        }
        if (!object.is_object()) {
          throw ParseError(source + ":" + std::to_string(line) + ": expected a JSON object");
        }
        std::vector<std::string> fields(table.names.size());
        for (const auto& [key, value] : object.items()) {
          auto it = std::find(table.names.begin(), table.names.end(), key);
          if (it == table.names.end()) {
            table.names.push_back(key);
            fields.emplace_back();
            it = table.names.end() - 1;
          }
          fields[it - table.names.begin()] =
              value.is_string() ? value.get<std::string>() : value.dump();
        }
        table.rows.push_back(std::move(fields));
      }
      table.line_numbers.push_back(line);
    }
  }
  if (options.header && format != TableFormat::kJsonl && format != TableFormat::kPlain &&
      !table.rows.empty()) {
    table.names = std::move(table.rows.front());
    table.rows.erase(table.rows.begin());
    table.line_numbers.erase(table.line_numbers.begin());
  }
  return table;
}

Table read_table(const std::filesystem::path& path, const TableOptions& options) {
  return parse_table(util::read_file(path), path.string(), options);
}

std::vector<std::string> column(const Table& table, const std::string& name) {
  std::size_t index = 0;
  const auto named = std::find(table.names.begin(), table.names.end(), name);
  if (named != table.names.end()) {
    index = static_cast<std::size_t>(named - table.names.begin());
  } else {
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (ec != std::errc() || end != name.data() + name.size()) {
      std::string known;
      for (const auto& n : table.names) known += (known.empty() ? "" : ", ") + n;
      throw InvalidArgument(
          table.source + ": no column '" + name + "'" +
          (known.empty() ? " (columns are numbered from 0)" : " (columns: " + known + ")"));
    }
  }
  std::vector<std::string> values;
  values.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    if (index >= row.size()) {
      throw ParseError(table.source + ":" + std::to_string(table.line_numbers[r]) + ": no column " +
                       name + " (the line has " + std::to_string(row.size()) + " field" +
                       (row.size() == 1 ? "" : "s") + ")");
    }
    values.push_back(row[index]);
  }
  return values;
}

}  // namespace bertlite::io
