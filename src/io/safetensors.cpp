// io/safetensors.cpp - safetensors reader (hostile-input checks, zero-copy views) and writer.
#include "io/safetensors.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <set>

#include "bertlite/error.h"
#include "util/file.h"
#include "util/mmap.h"

namespace bertlite::io {
namespace {

using nlohmann::json;

// The header has two levels (tensor -> field -> array); anything deeper is not a safetensors
// header, and refusing it early keeps a hostile file from building a deep document.
constexpr int kMaxHeaderDepth = 4;

std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | std::to_integer<std::uint64_t>(p[i]);
  return value;
}

// Reads [begin, end] or a shape: an array of integers in [0, INT64_MAX].
bool read_int_array(const json& node, std::vector<std::int64_t>& out) {
  if (!node.is_array()) return false;
  out.clear();
  out.reserve(node.size());
  for (const json& v : node) {
    if (!v.is_number_unsigned()) return false;  // negative or fractional
    const auto value = v.get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    out.push_back(static_cast<std::int64_t>(value));
  }
  return true;
}

struct Parsed {
  TensorInfo info;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

json parse_header(std::string_view text, const std::string& file) {
  std::set<std::string> names;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxHeaderDepth) {
      throw ParseError(file + ": header nests deeper than " + std::to_string(kMaxHeaderDepth) +
                       " levels");
    }
    // nlohmann keeps the last of two equal keys; a second tensor of the same name would
    // silently replace the first, so refuse it.
    if (event == json::parse_event_t::key && depth == 1 &&
        !names.insert(parsed.get<std::string>()).second) {
      throw ParseError(file + ": tensor '" + parsed.get<std::string>() + "' appears twice");
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const json::exception& e) {
    throw ParseError(file + ": header is not valid JSON: " + e.what());
  }
}

void parse_safetensors(std::span<const std::byte> bytes, const std::string& file, TensorFile& out) {
  if (bytes.size() < 8) {
    throw ParseError(file + ": " + std::to_string(bytes.size()) +
                     " bytes is too short for the 8-byte header length");
  }
  const std::uint64_t header_length = read_u64_le(bytes.data());
  if (header_length > kMaxSafetensorsHeader) {
    throw ParseError(file + ": header length " + std::to_string(header_length) +
                     " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (header_length > bytes.size() - 8) {
    throw ParseError(file + ": header length " + std::to_string(header_length) + " exceeds the " +
                     std::to_string(bytes.size() - 8) + " bytes that follow it");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_length);
  const json header = parse_header(text, file);
  if (!header.is_object()) throw ParseError(file + ": header is not a JSON object");

  const std::byte* data = bytes.data() + 8 + header_length;
  const std::uint64_t data_size = bytes.size() - 8 - header_length;
  std::vector<Parsed> tensors;
  tensors.reserve(header.size());
  for (const auto& [name, node] : header.items()) {
    if (name == "__metadata__") {
      bool strings = node.is_object();
      for (const json& v : node) strings = strings && v.is_string();
      if (!strings) throw ParseError(file + ": __metadata__: expected an object of strings");
      continue;
    }
    const std::string where = file + ": tensor '" + name + "'";
    if (!node.is_object()) throw ParseError(where + ": expected an object");
    Parsed t;
    t.info.name = name;
    t.info.file = file;

    if (!node.contains("dtype") || !node["dtype"].is_string()) {
      throw ParseError(where + ": dtype: expected a string");
    }
    const std::string dtype_text = node["dtype"].get<std::string>();
    const std::optional<DType> dtype = dtype_from_name(dtype_text);
    if (!dtype) throw ParseError(where + ": unknown dtype '" + dtype_text + "'");
    t.info.source_dtype = *dtype;

    if (!node.contains("shape") || !read_int_array(node["shape"], t.info.shape)) {
      throw ParseError(where + ": shape: expected an array of non-negative integers");
    }
    const std::optional<std::int64_t> count = checked_element_count(t.info.shape);
    const auto element_size = static_cast<std::uint64_t>(dtype_size(*dtype));
    if (!count ||
        static_cast<std::uint64_t>(*count) >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / element_size) {
      throw ParseError(where + ": shape " + format_shape(t.info.shape) + " " + dtype_text +
                       " overflows a 64-bit byte count");
    }
    const std::uint64_t needed = static_cast<std::uint64_t>(*count) * element_size;

    std::vector<std::int64_t> offsets;
    if (!node.contains("data_offsets") || !read_int_array(node["data_offsets"], offsets) ||
        offsets.size() != 2) {
      throw ParseError(where + ": data_offsets: expected [begin, end], non-negative integers");
    }
    t.begin = static_cast<std::uint64_t>(offsets[0]);
    t.end = static_cast<std::uint64_t>(offsets[1]);
    const std::string range = "data_offsets " + format_shape(offsets);
    if (t.begin > t.end) throw ParseError(where + ": " + range + ": begin is after end");
    if (t.end > data_size) {
      throw ParseError(where + ": " + range + " ends past the " + std::to_string(data_size) +
                       " bytes of tensor data");
    }
    if (t.end - t.begin != needed) {
      throw ParseError(where + ": " + range + " hold " + std::to_string(t.end - t.begin) +
                       " bytes, shape " + format_shape(t.info.shape) + " " + dtype_text +
                       " needs " + std::to_string(needed));
    }
    tensors.push_back(std::move(t));
  }

  // No two tensors may share a byte: a writer never does that, and a reader that allowed it
  // would let one tensor's data alias another's.
  std::vector<const Parsed*> by_offset;
  for (const Parsed& t : tensors) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Parsed* a, const Parsed* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const Parsed& a = *by_offset[i - 1];
    const Parsed& b = *by_offset[i];
    if (b.begin < a.end) {
      throw ParseError(file + ": tensors '" + a.info.name + "' [" + std::to_string(a.begin) + ", " +
                       std::to_string(a.end) + "] and '" + b.info.name + "' [" +
                       std::to_string(b.begin) + ", " + std::to_string(b.end) + "] overlap");
    }
  }

  for (Parsed& t : tensors) {
    TensorFile::Source source;
    source.data = data + t.begin;
    source.info = std::move(t.info);
    out.add(std::move(source));
  }
}

// JSON string literal, escaped the way serde_json (the reference writer) escapes it.
std::string quoted(const std::string& text) {
  try {
    return json(text).dump();
  } catch (const json::exception&) {
    throw InvalidArgument("safetensors: name '" + text + "' is not valid UTF-8");
  }
}

}  // namespace

TensorFile open_safetensors(const std::filesystem::path& path) {
  auto mapping = std::make_shared<const util::MappedFile>(path);
  TensorFile out(path.string());
  parse_safetensors(mapping->bytes(), path.string(), out);
  out.keep_alive(std::move(mapping));
  return out;
}

TensorFile read_safetensors(std::string bytes, const std::string& name) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  TensorFile out(name);
  parse_safetensors(std::as_bytes(std::span(owned->data(), owned->size())), name, out);
  out.keep_alive(std::move(owned));
  return out;
}

TensorToWrite f32_tensor(std::string name, std::vector<std::int64_t> shape,
                         std::span<const float> values) {
  return {std::move(name), DType::kF32, std::move(shape), std::as_bytes(values)};
}

void write_safetensors(std::ostream& out, std::span<const TensorToWrite> tensors,
                       const SafetensorsMetadata& metadata) {
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    const std::string where = "safetensors: tensor '" + t.name + "'";
    if (t.name == "__metadata__") throw InvalidArgument(where + ": the name is reserved");
    if (!names.insert(t.name).second) throw InvalidArgument(where + " is given twice");
    const std::optional<std::int64_t> count = checked_element_count(t.shape);
    if (!count) throw InvalidArgument(where + ": invalid shape " + format_shape(t.shape));
    const auto size = static_cast<std::uint64_t>(dtype_size(t.dtype));
    if (static_cast<std::uint64_t>(*count) > std::numeric_limits<std::uint64_t>::max() / size ||
        t.bytes.size() != static_cast<std::uint64_t>(*count) * size) {
      throw InvalidArgument(where + ": " + std::to_string(t.bytes.size()) + " bytes for shape " +
                            format_shape(t.shape) + " " + std::string(dtype_name(t.dtype)));
    }
  }

  // The reference layout: larger dtype rank first (keeps every tensor aligned to its element
  // size), then name. The DType enum is declared in that rank order.
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += quoted(key) + ':' + quoted(value);
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const TensorToWrite* t : order) {
    if (header.size() > 1) header += ',';
    header +=
        quoted(t->name) + ":{\"dtype\":\"" + std::string(dtype_name(t->dtype)) + "\",\"shape\":[";
    for (std::size_t i = 0; i < t->shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(t->shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + ',' +
              std::to_string(offset + t->bytes.size()) + "]}";
    offset += t->bytes.size();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  out.write(length, 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const TensorToWrite* t : order) {
    out.write(reinterpret_cast<const char*>(t->bytes.data()),
              static_cast<std::streamsize>(t->bytes.size()));
  }
}

void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const SafetensorsMetadata& metadata) {
  util::write_file_atomic(path,
                          [&](std::ostream& out) { write_safetensors(out, tensors, metadata); });
}

}  // namespace bertlite::io
