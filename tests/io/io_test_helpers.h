// tests/io/io_test_helpers.h - fixtures, temporary folders, in-memory zip and pickle builders,
// and error assertions shared by the weight-reader tests.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bertlite/error.h"
#include "io/tensor_file.h"
#include "test_support.h"
#include "util/file.h"

namespace bertlite::test {

namespace fs = std::filesystem;

inline fs::path io_data(const std::string& name) {
  return fs::path(BERTLITE_TEST_DATA) / "io" / name;
}

inline const nlohmann::json& expected_values() {
  static const nlohmann::json expected =
      nlohmann::json::parse(util::read_file(io_data("expected.json")));
  return expected;
}

inline std::uint32_t bits(float value) {
  return std::bit_cast<std::uint32_t>(value);
}

// Checks every tensor of `file` against the expected.json entry for it: dtype, shape, and the
// float32 bit pattern of every element (or, for non-float dtypes, that loading is refused).
inline void expect_tensors(const io::TensorFile& file, const nlohmann::json& expected) {
  EXPECT_EQ(file.size(), expected.size()) << file.source();
  for (const auto& [name, e] : expected.items()) {
    SCOPED_TRACE(file.source() + ": " + name);
    const io::TensorInfo* info = file.find(name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(io::dtype_name(info->source_dtype), e["dtype"].get<std::string>());
    EXPECT_EQ(info->shape, e["shape"].get<std::vector<std::int64_t>>());
    if (!e.contains("bits")) {
      EXPECT_THROW(file.floats(name), Unsupported);
      continue;
    }
    const io::FloatTensor t = file.floats(name);
    EXPECT_EQ(std::vector<std::int64_t>(t.shape.begin(), t.shape.end()), info->shape);
    const auto want = e["bits"].get<std::vector<std::uint32_t>>();
    ASSERT_EQ(t.data.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(bits(t.data[i]), want[i]) << "element " << i << " = " << t.data[i];
    }
  }
}

inline void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// What /proc/self/maps says is mapped at `address`: a file's path, "[heap]", or "" for an
// anonymous mapping. Proves that a view points into a file's memory map rather than a copy.
inline std::string mapped_file_at(const void* address) {
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode, path;
    fields >> range >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    const std::size_t dash = range.find('-');
    const std::uintptr_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const std::uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (target >= begin && target < end) return path;
  }
  return "";
}

inline void put_le(std::string& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// safetensors bytes: the 8-byte length (default: the header's own), the header, the data.
inline std::string safetensors_bytes(const std::string& header, const std::string& data = "",
                                     std::optional<std::uint64_t> length = std::nullopt) {
  std::string out;
  put_le(out, length.value_or(header.size()), 8);
  return out + header + data;
}

// Builds zip archives of stored entries, optionally with ZIP64 end records whose presence the
// classic end record signals by saturated fields.
class ZipBuilder {
 public:
  struct Entry {
    std::string name;
    std::string data;
    std::uint16_t method = 0;
    std::uint16_t flags = 0;
  };
  ZipBuilder& add(std::string name, std::string data, std::uint16_t method = 0,
                  std::uint16_t flags = 0) {
    entries_.push_back({std::move(name), std::move(data), method, flags});
    return *this;
  }
  std::string build(bool zip64 = false) const {
    std::string out, directory;
    for (const Entry& e : entries_) {
      const std::uint64_t local = out.size();
      put_le(out, 0x04034b50, 4);
      put_le(out, 20, 2);  // version needed
      put_le(out, e.flags, 2);
      put_le(out, e.method, 2);
      put_le(out, 0, 4);  // time, date
      put_le(out, 0, 4);  // crc (unchecked)
      put_le(out, e.data.size(), 4);
      put_le(out, e.data.size(), 4);
      put_le(out, e.name.size(), 2);
      put_le(out, 0, 2);
      out += e.name + e.data;

      std::string extra;
      if (zip64) {  // sizes and offset all moved into the ZIP64 extra field
        put_le(extra, 0x0001, 2);
        put_le(extra, 24, 2);
        put_le(extra, e.data.size(), 8);
        put_le(extra, e.data.size(), 8);
        put_le(extra, local, 8);
      }
      put_le(directory, 0x02014b50, 4);
      put_le(directory, 45, 2);  // version made by
      put_le(directory, 45, 2);  // version needed
      put_le(directory, e.flags, 2);
      put_le(directory, e.method, 2);
      put_le(directory, 0, 4);
      put_le(directory, 0, 4);
      put_le(directory, zip64 ? 0xFFFFFFFF : e.data.size(), 4);
      put_le(directory, zip64 ? 0xFFFFFFFF : e.data.size(), 4);
      put_le(directory, e.name.size(), 2);
      put_le(directory, extra.size(), 2);
      put_le(directory, 0, 2);  // comment
      put_le(directory, 0, 2);  // disk
      put_le(directory, 0, 2);  // internal attributes
      put_le(directory, 0, 4);  // external attributes
      put_le(directory, zip64 ? 0xFFFFFFFF : local, 4);
      directory += e.name + extra;
    }
    const std::uint64_t directory_offset = out.size();
    out += directory;
    if (zip64) {
      const std::uint64_t record = out.size();
      put_le(out, 0x06064b50, 4);
      put_le(out, 44, 8);  // size of the rest of the record
      put_le(out, 45, 2);
      put_le(out, 45, 2);
      put_le(out, 0, 4);
      put_le(out, 0, 4);
      put_le(out, entries_.size(), 8);
      put_le(out, entries_.size(), 8);
      put_le(out, directory.size(), 8);
      put_le(out, directory_offset, 8);
      put_le(out, 0x07064b50, 4);
      put_le(out, 0, 4);
      put_le(out, record, 8);
      put_le(out, 1, 4);
    }
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, zip64 ? 0xFFFF : entries_.size(), 2);
    put_le(out, zip64 ? 0xFFFF : entries_.size(), 2);
    put_le(out, zip64 ? 0xFFFFFFFF : directory.size(), 4);
    put_le(out, zip64 ? 0xFFFFFFFF : directory_offset, 4);
    put_le(out, 0, 2);
    return out;
  }

 private:
  std::vector<Entry> entries_;
};

// Writes pickle opcodes by name, with the helpers torch.save's output is made of.
class PickleBuilder {
 public:
  PickleBuilder& op(std::uint8_t code) {
    out_.push_back(static_cast<char>(code));
    return *this;
  }
  PickleBuilder& raw(std::string_view bytes) {
    out_ += bytes;
    return *this;
  }
  PickleBuilder& proto() { return op(0x80).op(2); }
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& stop() { return op('.'); }
  PickleBuilder& none() { return op('N'); }
  PickleBuilder& boolean(bool b) { return op(b ? 0x88 : 0x89); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& empty_tuple() { return op(')'); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& persid() { return op('Q'); }
  PickleBuilder& str(std::string_view s) {
    op('X');
    put_le(out_, s.size(), 4);
    return raw(s);
  }
  PickleBuilder& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(static_cast<std::uint8_t>(v));
    op(0x8a).op(8);
    put_le(out_, static_cast<std::uint64_t>(v), 8);
    return *this;
  }
  PickleBuilder& global(std::string_view module, std::string_view name) {
    op('c');
    out_ += std::string(module) + "\n" + std::string(name) + "\n";
    return *this;
  }
  PickleBuilder& int_tuple(std::initializer_list<std::int64_t> values) {
    mark();
    for (std::int64_t v : values) integer(v);
    return tuple();
  }
  // _rebuild_tensor_v2(('storage', torch.<storage_type>, key, 'cpu', numel), offset, size,
  // stride, False, OrderedDict()), as torch.save writes it.
  PickleBuilder& tensor(std::string_view storage_type, std::string_view key, std::int64_t numel,
                        std::int64_t offset, std::initializer_list<std::int64_t> shape,
                        std::initializer_list<std::int64_t> strides) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
    tuple().persid();
    integer(offset).int_tuple(shape).int_tuple(strides).boolean(false);
    global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// A torch.save-shaped archive holding `pickle` and the given storages.
inline std::string torch_zip(const std::string& pickle,
                             std::initializer_list<std::pair<std::string, std::string>> storages,
                             bool zip64 = false) {
  ZipBuilder zip;
  zip.add("archive/data.pkl", pickle);
  zip.add("archive/byteorder", "little");
  for (const auto& [key, data] : storages) zip.add("archive/data/" + key, data);
  return zip.build(zip64);
}

inline std::string float_bytes(std::initializer_list<float> values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

}  // namespace bertlite::test
