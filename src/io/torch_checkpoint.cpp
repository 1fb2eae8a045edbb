// io/torch_checkpoint.cpp - zip directory reader, restricted unpickler, and the two torch.save
// layouts (zip and legacy) on top of them.
#include "io/torch_checkpoint.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "bertlite/error.h"
#include "util/mmap.h"

namespace bertlite::io {
namespace {

using detail::ZipEntry;

// ---- Little-endian reads with bounds checks ----

// A byte range whose reads throw ParseError (naming `where_` and the offset) instead of
// running past the end.
class Bytes {
 public:
  Bytes(std::span<const std::byte> bytes, std::string where)
      : bytes_(bytes), where_(std::move(where)) {}

  std::uint64_t size() const { return bytes_.size(); }
  const std::byte* at(std::uint64_t offset) const { return bytes_.data() + offset; }
  const std::string& where() const { return where_; }

  // Throws unless [offset, offset + length) lies inside the range.
  void need(std::uint64_t offset, std::uint64_t length, const char* what) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset) {
      throw ParseError(where_ + ": " + what + " at byte " + std::to_string(offset) + " needs " +
                       std::to_string(length) + " bytes, past the end (" +
                       std::to_string(bytes_.size()) + " bytes)");
    }
  }
  std::uint64_t le(std::uint64_t offset, int width, const char* what) const {
    need(offset, static_cast<std::uint64_t>(width), what);
    std::uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i) {
      value = (value << 8) | std::to_integer<std::uint64_t>(bytes_[offset + i]);
    }
    return value;
  }
  std::uint16_t u16(std::uint64_t offset, const char* what) const {
    return static_cast<std::uint16_t>(le(offset, 2, what));
  }
  std::uint32_t u32(std::uint64_t offset, const char* what) const {
    return static_cast<std::uint32_t>(le(offset, 4, what));
  }
  std::uint64_t u64(std::uint64_t offset, const char* what) const { return le(offset, 8, what); }

 private:
  std::span<const std::byte> bytes_;
  std::string where_;
};

bool add_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) {
  if (b > std::numeric_limits<std::int64_t>::max() - a) return true;
  out = a + b;
  return false;
}
bool mul_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a) return true;
  out = a * b;
  return false;
}

}  // namespace

// ---- Zip central directory ----

namespace detail {

std::vector<ZipEntry> read_zip_directory(std::span<const std::byte> file, const std::string& name) {
  constexpr std::uint32_t kEndSignature = 0x06054b50;
  constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
  constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
  constexpr std::uint32_t kCentralSignature = 0x02014b50;
  constexpr std::uint32_t kLocalSignature = 0x04034b50;
  constexpr std::uint64_t kEndSize = 22, kCentralSize = 46, kLocalSize = 30;

  const Bytes bytes(file, name);
  const std::uint64_t size = bytes.size();
  if (size < kEndSize) {
    throw ParseError(name + ": " + std::to_string(size) + " bytes is too short for a zip archive");
  }
  // The end record sits in the last 22 bytes plus at most a 65535-byte comment.
  std::optional<std::uint64_t> end;
  const std::uint64_t lowest = size > kEndSize + 0xFFFF ? size - kEndSize - 0xFFFF : 0;
  for (std::uint64_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (bytes.u32(pos, "end record") == kEndSignature &&
        pos + kEndSize + bytes.u16(pos + 20, "comment length") <= size) {
      end = pos;
      break;
    }
  }
  if (!end) {
    throw ParseError(name + ": no zip end-of-central-directory record (truncated, or not a zip)");
  }
  std::uint64_t count = bytes.u16(*end + 10, "entry count");
  std::uint64_t directory_size = bytes.u32(*end + 12, "directory size");
  std::uint64_t directory_offset = bytes.u32(*end + 16, "directory offset");
  std::uint64_t directory_limit = *end;  // the directory must end before the end records
  const bool disk_numbers = bytes.u16(*end + 4, "disk") != 0 || bytes.u16(*end + 6, "disk") != 0;
  if (*end >= 20 && bytes.u32(*end - 20, "ZIP64 locator") == kZip64LocatorSignature) {
    const std::uint64_t record = bytes.u64(*end - 20 + 8, "ZIP64 end record offset");
    if (record > *end - 20 || *end - 20 - record < 56 ||
        bytes.u32(record, "ZIP64 end record") != kZip64EndSignature) {
      throw ParseError(name + ": ZIP64 locator points to byte " + std::to_string(record) +
                       ", which holds no ZIP64 end record");
    }
    if (bytes.u32(record + 16, "disk") != 0 || bytes.u32(record + 20, "disk") != 0) {
      throw Unsupported(name + ": multi-disk zip archives are not supported");
    }
    count = bytes.u64(record + 32, "entry count");
    directory_size = bytes.u64(record + 40, "directory size");
    directory_offset = bytes.u64(record + 48, "directory offset");
    directory_limit = record;
  } else if (count == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
    throw ParseError(name + ": zip end record defers to a ZIP64 record that is missing");
  } else if (disk_numbers) {
    throw Unsupported(name + ": multi-disk zip archives are not supported");
  }
  if (directory_offset > directory_limit || directory_size > directory_limit - directory_offset) {
    throw ParseError(name + ": zip central directory [" + std::to_string(directory_offset) + ", +" +
                     std::to_string(directory_size) + ") runs past byte " +
                     std::to_string(directory_limit));
  }
  if (count > directory_size / kCentralSize) {
    throw ParseError(name + ": " + std::to_string(count) + " zip entries cannot fit in a " +
                     std::to_string(directory_size) + "-byte central directory");
  }

  const Bytes directory(file.subspan(directory_offset, directory_size), name + ": zip directory");
  std::vector<ZipEntry> entries;
  entries.reserve(count);
  std::set<std::string> names;
  std::uint64_t pos = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (directory.u32(pos, "entry") != kCentralSignature) {
      throw ParseError(name + ": zip directory entry " + std::to_string(i) +
                       " has a bad signature");
    }
    const std::uint16_t flags = directory.u16(pos + 8, "flags");
    const std::uint16_t method = directory.u16(pos + 10, "method");
    std::uint64_t compressed = directory.u32(pos + 20, "compressed size");
    std::uint64_t stored = directory.u32(pos + 24, "size");
    const std::uint16_t name_length = directory.u16(pos + 28, "name length");
    const std::uint16_t extra_length = directory.u16(pos + 30, "extra length");
    const std::uint16_t comment_length = directory.u16(pos + 32, "comment length");
    std::uint64_t local = directory.u32(pos + 42, "local header offset");
    directory.need(pos + kCentralSize, std::uint64_t{name_length} + extra_length + comment_length,
                   "entry name and extra fields");
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(directory.at(pos + kCentralSize)), name_length);
    const std::string where = name + ": zip entry '" + entry.name + "'";

    // ZIP64 extended information replaces, in this order, each 32-bit field that is saturated.
    const std::uint64_t extra_end = pos + kCentralSize + name_length + extra_length;
    for (std::uint64_t x = pos + kCentralSize + name_length; x + 4 <= extra_end;) {
      const std::uint16_t id = directory.u16(x, "extra id");
      const std::uint16_t length = directory.u16(x + 2, "extra length");
      if (x + 4 + length > extra_end) throw ParseError(where + ": extra field overruns");
      if (id == 0x0001) {
        std::uint64_t field = x + 4;
        auto widen = [&](std::uint64_t& value) {
          if (value != 0xFFFFFFFF) return;
          if (field + 8 > x + 4 + length) throw ParseError(where + ": ZIP64 extra field is short");
          value = directory.u64(field, "ZIP64 field");
          field += 8;
        };
        widen(stored);
        widen(compressed);
        widen(local);
      }
      x += 4 + length;
    }
    if (flags & 0x1) throw Unsupported(where + " is encrypted");
    if (method != 0) {
      throw Unsupported(where + " is compressed (method " + std::to_string(method) +
                        "); only stored entries, as torch.save writes them, are supported");
    }
    if (compressed != stored) {
      throw ParseError(where + ": stored entry has compressed size " + std::to_string(compressed) +
                       " but size " + std::to_string(stored));
    }
    // The data follows the local header, whose name and extra lengths may differ from the
    // central directory's (torch pads the local extra field to align the data).
    if (local > size || size - local < kLocalSize ||
        bytes.u32(local, "local header") != kLocalSignature) {
      throw ParseError(where + ": no local header at byte " + std::to_string(local));
    }
    const std::uint64_t data =
        local + kLocalSize + bytes.u16(local + 26, "name length") + bytes.u16(local + 28, "extra");
    if (data > size || stored > size - data) {
      throw ParseError(where + ": " + std::to_string(stored) + " bytes at byte " +
                       std::to_string(data) + " run past the end of the file (" +
                       std::to_string(size) + " bytes)");
    }
    if (!names.insert(entry.name).second) throw ParseError(where + " appears twice");
    entry.data_offset = data;
    entry.size = stored;
    entries.push_back(std::move(entry));
    pos = extra_end + comment_length;
  }
  return entries;
}

}  // namespace detail

// ---- Restricted unpickler ----

namespace {

enum class Kind : std::uint8_t {
  kNone,
  kBool,
  kInt,
  kString,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};

const char* kind_name(Kind kind) {
  constexpr std::array<const char*, 10> names{"None", "bool", "int",    "str",     "tuple",
                                              "list", "dict", "global", "storage", "tensor"};
  return names[static_cast<std::size_t>(kind)];
}

// The only callables a state dict needs, and the storage classes its tensors name.
enum class Callable : std::uint8_t {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kStorageType
};

// A pickle value. Containers, strings, storages and tensors live in the Unpickler's arenas and
// `number` indexes them; copying a Value (BINGET, DUP of a memo entry) is O(1), so a hostile
// pickle cannot blow up memory by repeated references, and reference cycles cannot leak.
struct Value {
  Kind kind = Kind::kNone;
  std::int64_t number = 0;  // the int or bool, the arena index, or a global (global_value())
};

// A global packs its Callable and, for storage types, its element type into Value::number.
Value global_value(Callable callable, DType dtype) {
  return {Kind::kGlobal, static_cast<std::int64_t>(callable) | static_cast<std::int64_t>(dtype)
                                                                   << 8};
}
Callable callable_of(Value v) {
  return static_cast<Callable>(v.number & 0xFF);
}
DType dtype_of(Value v) {
  return static_cast<DType>(v.number >> 8);
}

// ('storage', <Type>Storage, key, location, numel[, view_metadata]).
struct Storage {
  std::string key;
  DType dtype = DType::kF32;
  std::int64_t numel = 0;
};

struct Tensor {
  std::size_t storage = 0;  // index into storages
  std::int64_t offset = 0;  // in elements
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;
};

struct Opcode {
  std::uint8_t code;
  const char* name;
};

// Every pickle opcode (protocols 0-5), for naming the ones refused.
constexpr std::array<Opcode, 68> kOpcodes{{
    {'(', "MARK"},
    {'.', "STOP"},
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'F', "FLOAT"},
    {'I', "INT"},
    {'J', "BININT"},
    {'K', "BININT1"},
    {'L', "LONG"},
    {'M', "BININT2"},
    {'N', "NONE"},
    {'P', "PERSID"},
    {'Q', "BINPERSID"},
    {'R', "REDUCE"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'X', "BINUNICODE"},
    {'a', "APPEND"},
    {'b', "BUILD"},
    {'c', "GLOBAL"},
    {'d', "DICT"},
    {'}', "EMPTY_DICT"},
    {'e', "APPENDS"},
    {'g', "GET"},
    {'h', "BINGET"},
    {'i', "INST"},
    {'j', "LONG_BINGET"},
    {'l', "LIST"},
    {']', "EMPTY_LIST"},
    {'o', "OBJ"},
    {'p', "PUT"},
    {'q', "BINPUT"},
    {'r', "LONG_BINPUT"},
    {'s', "SETITEM"},
    {'t', "TUPLE"},
    {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"},
    {'G', "BINFLOAT"},
    {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"},
    {0x80, "PROTO"},
    {0x81, "NEWOBJ"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {0x85, "TUPLE1"},
    {0x86, "TUPLE2"},
    {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"},
    {0x89, "NEWFALSE"},
    {0x8a, "LONG1"},
    {0x8b, "LONG4"},
    {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"},
    {0x94, "MEMOIZE"},
    {0x95, "FRAME"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
}};

const char* opcode_name(std::uint8_t code) {
  for (const Opcode& op : kOpcodes) {
    if (op.code == code) return op.name;
  }
  return nullptr;
}

struct AllowedGlobal {
  std::string_view module;
  std::string_view name;
  Callable callable;
  DType dtype;
};

constexpr std::array<AllowedGlobal, 14> kAllowedGlobals{{
    {"collections", "OrderedDict", Callable::kOrderedDict, DType::kF32},
    {"torch._utils", "_rebuild_tensor_v2", Callable::kRebuildTensorV2, DType::kF32},
    {"torch._utils", "_rebuild_parameter", Callable::kRebuildParameter, DType::kF32},
    {"torch._utils", "_rebuild_parameter_with_state", Callable::kRebuildParameterWithState,
     DType::kF32},
    {"torch", "FloatStorage", Callable::kStorageType, DType::kF32},
    {"torch", "HalfStorage", Callable::kStorageType, DType::kF16},
    {"torch", "BFloat16Storage", Callable::kStorageType, DType::kBF16},
    {"torch", "DoubleStorage", Callable::kStorageType, DType::kF64},
    {"torch", "LongStorage", Callable::kStorageType, DType::kI64},
    {"torch", "IntStorage", Callable::kStorageType, DType::kI32},
    {"torch", "ShortStorage", Callable::kStorageType, DType::kI16},
    {"torch", "CharStorage", Callable::kStorageType, DType::kI8},
    {"torch", "ByteStorage", Callable::kStorageType, DType::kU8},
    {"torch", "BoolStorage", Callable::kStorageType, DType::kBool},
}};

// A state dict of N tensors builds about 10 N objects; this bound keeps a hostile pickle from
// building billions of them (each opcode byte could otherwise allocate one).
constexpr std::size_t kMaxObjects = 4'000'000;

// Interprets the state-dict subset of pickle. Builds values, never calls anything: the
// allow-listed "calls" construct Tensor and dict descriptions.
class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, std::string where) : in_(data, std::move(where)) {}

  // Runs from `pos` to the next STOP and returns the one value left; `pos` moves past STOP.
  Value load(std::uint64_t& pos) {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    pos_ = pos;
    for (;;) {
      const std::uint64_t at = pos_;
      const auto code = static_cast<std::uint8_t>(in_.le(pos_, 1, "opcode"));
      ++pos_;
      if (step(code, at)) break;
    }
    pos = pos_;
    if (stack_.size() != 1 || !marks_.empty()) {
      fail(pos_ - 1, "STOP leaves " + std::to_string(stack_.size()) + " values and " +
                         std::to_string(marks_.size()) + " marks; expected one value");
    }
    return stack_.back();
  }

  const std::string& string(Value v) const { return strings_[index(v)]; }
  const std::vector<Value>& items(Value v) const { return sequences_[index(v)]; }
  const Storage& storage(std::size_t i) const { return storages_[i]; }
  const Tensor& tensor(Value v) const { return tensors_[index(v)]; }
  const std::string& where() const { return in_.where(); }

 private:
  static std::size_t index(Value v) { return static_cast<std::size_t>(v.number); }

  [[noreturn]] void fail(std::uint64_t at, const std::string& problem) const {
    throw ParseError(in_.where() + ": byte " + std::to_string(at) + ": " + problem);
  }

  void count_object(std::uint64_t at) {
    if (++objects_ > kMaxObjects) {
      fail(at, "more than " + std::to_string(kMaxObjects) + " objects; not a state dict");
    }
  }
  void push(Value v, std::uint64_t at) {
    count_object(at);
    stack_.push_back(v);
  }
  Value pop(std::uint64_t at, const char* op) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
      fail(at, std::string(op) + " needs a value but the stack is empty");
    }
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top(std::uint64_t at, const char* op) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
      fail(at, std::string(op) + " needs a value but the stack is empty");
    }
    return stack_.back();
  }
  std::vector<Value> pop_mark(std::uint64_t at, const char* op) {
    if (marks_.empty()) fail(at, std::string(op) + " without a MARK");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Value new_sequence(Kind kind, std::vector<Value> items, std::uint64_t at) {
    count_object(at);
    sequences_.push_back(std::move(items));
    return {kind, static_cast<std::int64_t>(sequences_.size() - 1)};
  }
  Value new_string(std::uint64_t length, std::uint64_t at) {
    in_.need(pos_, length, "string");
    count_object(at);
    strings_.emplace_back(reinterpret_cast<const char*>(in_.at(pos_)), length);
    pos_ += length;
    return {Kind::kString, static_cast<std::int64_t>(strings_.size() - 1)};
  }
  Value expect(Value v, Kind kind, std::uint64_t at, const char* what) const {
    if (v.kind != kind) {
      fail(at,
           std::string(what) + ": expected " + kind_name(kind) + ", found " + kind_name(v.kind));
    }
    return v;
  }
  std::vector<std::int64_t> int_tuple(Value v, std::uint64_t at, const char* what) const {
    expect(v, Kind::kTuple, at, what);
    std::vector<std::int64_t> out;
    for (Value item : items(v)) out.push_back(expect(item, Kind::kInt, at, what).number);
    return out;
  }
  void memo_put(std::uint64_t key, std::uint64_t at) {
    count_object(at);
    memo_[key] = top(at, "PUT");
  }
  Value memo_get(std::uint64_t key, std::uint64_t at) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail(at, "memo entry " + std::to_string(key) + " was never stored");
    return it->second;
  }

  Value global(std::string_view module, std::string_view name, std::uint64_t at) {
    for (const AllowedGlobal& g : kAllowedGlobals) {
      if (g.module == module && g.name == name) {
        return global_value(g.callable, g.dtype);
      }
    }
    throw Unsupported(in_.where() + ": byte " + std::to_string(at) + ": global '" +
                      std::string(module) + "." + std::string(name) +
                      "' is not allowed; only the globals of a tensor state dict are");
  }
  std::string_view line(std::uint64_t at) {
    const std::uint64_t start = pos_;
    while (true) {
      const auto c = static_cast<char>(in_.le(pos_, 1, "GLOBAL name"));
      ++pos_;
      if (c == '\n') break;
      if (pos_ - start > 256) fail(at, "GLOBAL name longer than 256 bytes");
    }
    return {reinterpret_cast<const char*>(in_.at(start)), pos_ - start - 1};
  }

  Value persistent_load(Value pid, std::uint64_t at) {
    expect(pid, Kind::kTuple, at, "persistent id");
    const std::vector<Value>& t = items(pid);
    if (t.size() != 5 && t.size() != 6) {
      fail(at, "persistent id has " + std::to_string(t.size()) +
                   " items; expected ('storage', type, key, location, numel)");
    }
    if (t[0].kind != Kind::kString || string(t[0]) != "storage") {
      fail(at, "persistent id is not a ('storage', ...) record");
    }
    if (t[1].kind != Kind::kGlobal || callable_of(t[1]) != Callable::kStorageType) {
      fail(at, "persistent id: expected a storage type such as torch.FloatStorage");
    }
    expect(t[2], Kind::kString, at, "storage key");
    expect(t[3], Kind::kString, at, "storage location");
    expect(t[4], Kind::kInt, at, "storage size");
    if (t.size() == 6 && t[5].kind != Kind::kNone) {
      throw Unsupported(in_.where() + ": byte " + std::to_string(at) +
                        ": storage views (PyTorch < 0.4 checkpoints) are not supported");
    }
    if (t[4].number < 0) fail(at, "storage size " + std::to_string(t[4].number) + " < 0");
    count_object(at);
    storages_.push_back({string(t[2]), dtype_of(t[1]), t[4].number});
    return {Kind::kStorage, static_cast<std::int64_t>(storages_.size() - 1)};
  }

  Value reduce(Value callable, Value args, std::uint64_t at) {
    expect(callable, Kind::kGlobal, at, "REDUCE callable");
    expect(args, Kind::kTuple, at, "REDUCE arguments");
    const std::vector<Value>& a = items(args);
    switch (callable_of(callable)) {
      case Callable::kOrderedDict:
        if (!a.empty()) fail(at, "OrderedDict() with arguments is not supported");
        return new_sequence(Kind::kDict, {}, at);
      case Callable::kRebuildTensorV2: {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() != 6 && a.size() != 7) {
          fail(at, "_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(a.size()));
        }
        Tensor t;
        t.storage = index(expect(a[0], Kind::kStorage, at, "_rebuild_tensor_v2 storage"));
        t.offset = expect(a[1], Kind::kInt, at, "_rebuild_tensor_v2 storage_offset").number;
        t.shape = int_tuple(a[2], at, "_rebuild_tensor_v2 size");
        t.strides = int_tuple(a[3], at, "_rebuild_tensor_v2 stride");
        expect(a[4], Kind::kBool, at, "_rebuild_tensor_v2 requires_grad");
        expect(a[5], Kind::kDict, at, "_rebuild_tensor_v2 backward_hooks");
        count_object(at);
        tensors_.push_back(std::move(t));
        return {Kind::kTensor, static_cast<std::int64_t>(tensors_.size() - 1)};
      }
      case Callable::kRebuildParameter:
      case Callable::kRebuildParameterWithState: {
        // (data, requires_grad, backward_hooks[, state]): the parameter is its data.
        const std::size_t arity = callable_of(callable) == Callable::kRebuildParameter ? 3 : 4;
        if (a.size() != arity) {
          fail(at, "_rebuild_parameter takes " + std::to_string(arity) + " arguments, got " +
                       std::to_string(a.size()));
        }
        return expect(a[0], Kind::kTensor, at, "_rebuild_parameter data");
      }
      case Callable::kStorageType:
        break;
    }
    throw Unsupported(in_.where() + ": byte " + std::to_string(at) +
                      ": calling a storage type is not supported");
  }

  // Executes one opcode; returns true at STOP.
  bool step(std::uint8_t code, std::uint64_t at) {
    switch (code) {
      case 0x80: {  // PROTO
        const std::uint64_t version = in_.le(pos_++, 1, "PROTO");
        if (version > 5) fail(at, "pickle protocol " + std::to_string(version) + " > 5");
        return false;
      }
      case 0x95:  // FRAME: a length hint for buffered readers; the data is already in memory
        in_.need(pos_, 8, "FRAME");
        pos_ += 8;
        return false;
      case '.':  // STOP
        return true;
      case '(':  // MARK
        count_object(at);
        marks_.push_back(stack_.size());
        return false;
      case '}':  // EMPTY_DICT
        push(new_sequence(Kind::kDict, {}, at), at);
        return false;
      case ']':  // EMPTY_LIST
        push(new_sequence(Kind::kList, {}, at), at);
        return false;
      case ')':  // EMPTY_TUPLE
        push(new_sequence(Kind::kTuple, {}, at), at);
        return false;
      case 'N':  // NONE
        push({Kind::kNone, 0}, at);
        return false;
      case 0x88:  // NEWTRUE
      case 0x89:  // NEWFALSE
        push({Kind::kBool, code == 0x88 ? 1 : 0}, at);
        return false;
      case 'K':  // BININT1
        push({Kind::kInt, static_cast<std::int64_t>(in_.le(pos_, 1, "BININT1"))}, at);
        pos_ += 1;
        return false;
      case 'M':  // BININT2
        push({Kind::kInt, static_cast<std::int64_t>(in_.le(pos_, 2, "BININT2"))}, at);
        pos_ += 2;
        return false;
      case 'J':  // BININT: signed 32-bit
        push({Kind::kInt, static_cast<std::int32_t>(in_.u32(pos_, "BININT"))}, at);
        pos_ += 4;
        return false;
      case 0x8a: {  // LONG1: n-byte two's complement, little-endian
        const std::uint64_t n = in_.le(pos_, 1, "LONG1");
        pos_ += 1;
        if (n > 8) fail(at, "LONG1 of " + std::to_string(n) + " bytes does not fit in 64 bits");
        std::uint64_t value = n == 0 ? 0 : in_.le(pos_, static_cast<int>(n), "LONG1");
        if (n > 0 && n < 8 && (value >> (8 * n - 1)) & 1) value |= ~std::uint64_t{0} << (8 * n);
        pos_ += n;
        push({Kind::kInt, static_cast<std::int64_t>(value)}, at);
        return false;
      }
      case 'X':  // BINUNICODE
      {
        const std::uint64_t length = in_.u32(pos_, "BINUNICODE");
        pos_ += 4;
        push(new_string(length, at), at);
        return false;
      }
      case 0x8c: {  // SHORT_BINUNICODE
        const std::uint64_t length = in_.le(pos_, 1, "SHORT_BINUNICODE");
        pos_ += 1;
        push(new_string(length, at), at);
        return false;
      }
      case 0x8d: {  // BINUNICODE8
        const std::uint64_t length = in_.u64(pos_, "BINUNICODE8");
        pos_ += 8;
        push(new_string(length, at), at);
        return false;
      }
      case 't':  // TUPLE
        push(new_sequence(Kind::kTuple, pop_mark(at, "TUPLE"), at), at);
        return false;
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const std::size_t n = code - 0x84u;
        std::vector<Value> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop(at, opcode_name(code));
        push(new_sequence(Kind::kTuple, std::move(items), at), at);
        return false;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module(line(at));
        const std::string name(line(at));
        push(global(module, name, at), at);
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        const Value name = expect(pop(at, "STACK_GLOBAL"), Kind::kString, at, "STACK_GLOBAL");
        const Value module = expect(pop(at, "STACK_GLOBAL"), Kind::kString, at, "STACK_GLOBAL");
        push(global(string(module), string(name), at), at);
        return false;
      }
      case 'Q':  // BINPERSID
        push(persistent_load(pop(at, "BINPERSID"), at), at);
        return false;
      case 'R': {  // REDUCE
        const Value args = pop(at, "REDUCE");
        const Value callable = pop(at, "REDUCE");
        push(reduce(callable, args, at), at);
        return false;
      }
      case 'b': {  // BUILD: only OrderedDict's state (its _metadata attribute), which is unused
        pop(at, "BUILD");
        const Value target = top(at, "BUILD");
        if (target.kind != Kind::kDict) {
          throw Unsupported(in_.where() + ": byte " + std::to_string(at) + ": BUILD on a " +
                            kind_name(target.kind) + " is not supported");
        }
        return false;
      }
      case 's': {  // SETITEM
        const Value value = pop(at, "SETITEM");
        const Value key = pop(at, "SETITEM");
        const Value dict = expect(top(at, "SETITEM"), Kind::kDict, at, "SETITEM target");
        sequences_[index(dict)].push_back(key);
        sequences_[index(dict)].push_back(value);
        return false;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> pairs = pop_mark(at, "SETITEMS");
        if (pairs.size() % 2 != 0) fail(at, "SETITEMS with an odd number of values");
        const Value dict = expect(top(at, "SETITEMS"), Kind::kDict, at, "SETITEMS target");
        auto& target = sequences_[index(dict)];
        target.insert(target.end(), pairs.begin(), pairs.end());
        return false;
      }
      case 'a': {  // APPEND
        const Value value = pop(at, "APPEND");
        const Value list = expect(top(at, "APPEND"), Kind::kList, at, "APPEND target");
        sequences_[index(list)].push_back(value);
        return false;
      }
      case 'e': {  // APPENDS
        std::vector<Value> values = pop_mark(at, "APPENDS");
        const Value list = expect(top(at, "APPENDS"), Kind::kList, at, "APPENDS target");
        auto& target = sequences_[index(list)];
        target.insert(target.end(), values.begin(), values.end());
        return false;
      }
      case 'q':  // BINPUT
        memo_put(in_.le(pos_, 1, "BINPUT"), at);
        pos_ += 1;
        return false;
      case 'r':  // LONG_BINPUT
        memo_put(in_.u32(pos_, "LONG_BINPUT"), at);
        pos_ += 4;
        return false;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size(), at);
        return false;
      case 'h':  // BINGET
        push(memo_get(in_.le(pos_, 1, "BINGET"), at), at);
        pos_ += 1;
        return false;
      case 'j':  // LONG_BINGET
        push(memo_get(in_.u32(pos_, "LONG_BINGET"), at), at);
        pos_ += 4;
        return false;
      default:
        break;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", code);
    if (const char* name = opcode_name(code)) {
      throw Unsupported(in_.where() + ": byte " + std::to_string(at) + ": pickle opcode " + name +
                        " (" + hex + ") is not allowed in a tensor state dict");
    }
    fail(at, std::string("unknown pickle opcode ") + hex);
  }

  Bytes in_;
  std::uint64_t pos_ = 0;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  std::size_t objects_ = 0;
  std::vector<std::string> strings_;
  std::vector<std::vector<Value>> sequences_;  // tuples, lists, dicts (key, value, ...)
  std::vector<Storage> storages_;
  std::vector<Tensor> tensors_;
};

// ---- From a state dict to TensorFile entries ----

// The storages a checkpoint holds: key -> bytes, as the layout (zip entry or legacy stream)
// locates them.
using StorageBytes = std::map<std::string, std::span<const std::byte>, std::less<>>;

struct Declared {
  DType dtype;
  std::int64_t numel;
};

// Every storage key the state dict references, with its declared type and size, checking that
// all references to one key agree.
std::map<std::string, Declared> declared_storages(const Unpickler& pickle, Value state,
                                                  const std::string& file) {
  std::map<std::string, Declared> out;
  const auto& items = pickle.items(state);
  for (std::size_t i = 1; i < items.size(); i += 2) {
    if (items[i].kind != Kind::kTensor) continue;
    const Storage& s = pickle.storage(pickle.tensor(items[i]).storage);
    auto [it, inserted] = out.emplace(s.key, Declared{s.dtype, s.numel});
    if (!inserted && (it->second.dtype != s.dtype || it->second.numel != s.numel)) {
      throw ParseError(file + ": storage '" + s.key + "' is declared as " +
                       std::to_string(it->second.numel) + " " +
                       std::string(dtype_name(it->second.dtype)) + " and as " +
                       std::to_string(s.numel) + " " + std::string(dtype_name(s.dtype)));
    }
  }
  return out;
}

// Checks that the view (offset, shape, strides) stays inside a storage of `numel` elements.
void check_view(const Tensor& t, std::int64_t numel, const std::string& where) {
  auto fail = [&](const std::string& problem) {
    throw ParseError(where + ": storage_offset " + std::to_string(t.offset) + ", size " +
                     format_shape(t.shape) + ", stride " + format_shape(t.strides) + ": " +
                     problem);
  };
  if (t.shape.size() != t.strides.size()) fail("size and stride differ in length");
  if (t.offset < 0) fail("negative storage offset");
  for (std::size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] < 0) fail("negative size");
    if (t.strides[d] < 0) fail("negative stride");
  }
  const std::optional<std::int64_t> count = checked_element_count(t.shape);
  if (!count) fail("element count overflows");
  if (*count == 0) {
    if (t.offset > numel) fail("offset past the storage's " + std::to_string(numel) + " elements");
    return;
  }
  // The last element the view reaches is offset + sum((size - 1) * stride).
  std::int64_t last = t.offset;
  for (std::size_t d = 0; d < t.shape.size(); ++d) {
    std::int64_t span = 0;
    if (mul_overflows(t.shape[d] - 1, t.strides[d], span) || add_overflows(last, span, last)) {
      fail("element offsets overflow");
    }
  }
  if (last >= numel) {
    fail("reaches element " + std::to_string(last) + " of a storage of " + std::to_string(numel));
  }
  // Only overlapping strides (expand(), as_strided) view more elements than the storage holds;
  // loading such a view copies every element, so a few bytes could claim terabytes.
  if (*count > numel) {
    throw Unsupported(where + ": storage_offset " + std::to_string(t.offset) + ", size " +
                      format_shape(t.shape) + ", stride " + format_shape(t.strides) + ": views " +
                      std::to_string(*count) + " elements of a storage of " +
                      std::to_string(numel) +
                      " (overlapping strides, as expand() makes); save a contiguous copy");
  }
}

void add_state_dict(const Unpickler& pickle, Value state, const StorageBytes& storages,
                    const std::string& file, TensorFile& out) {
  if (state.kind != Kind::kDict) {
    throw ParseError(file + ": the pickle holds a " + std::string(kind_name(state.kind)) +
                     ", not a state dict");
  }
  const auto& items = pickle.items(state);
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].kind != Kind::kString) {
      throw ParseError(file + ": state dict key " + std::to_string(i / 2) + " is a " +
                       kind_name(items[i].kind) + ", not a str");
    }
    const std::string& name = pickle.string(items[i]);
    if (items[i + 1].kind != Kind::kTensor) {
      throw Unsupported(file + ": '" + name + "' is a " + kind_name(items[i + 1].kind) +
                        ", not a tensor; only state dicts of tensors are supported");
    }
    if (!seen.insert(name).second) throw ParseError(file + ": key '" + name + "' appears twice");
    const Tensor& t = pickle.tensor(items[i + 1]);
    const Storage& s = pickle.storage(t.storage);
    const std::string where = file + ": tensor '" + name + "'";
    auto bytes = storages.find(s.key);
    if (bytes == storages.end()) {
      throw ParseError(where + ": storage '" + s.key + "' is missing from the file");
    }
    const std::uint64_t element_size = dtype_size(s.dtype);
    if (static_cast<std::uint64_t>(s.numel) > bytes->second.size() / element_size) {
      throw ParseError(where + ": storage '" + s.key + "' holds " +
                       std::to_string(bytes->second.size()) + " bytes, fewer than " +
                       std::to_string(s.numel) + " " + std::string(dtype_name(s.dtype)) +
                       " elements need");
    }
    check_view(t, s.numel, where);
    TensorFile::Source source;
    source.info.name = name;
    source.info.shape = t.shape;
    source.info.source_dtype = s.dtype;
    source.info.file = file;
    source.data = bytes->second.data() + static_cast<std::uint64_t>(t.offset) * element_size;
    source.strides = t.strides;
    out.add(std::move(source));
  }
}

// ---- The two layouts ----

void parse_zip_checkpoint(std::span<const std::byte> file, const std::string& name,
                          TensorFile& out) {
  const std::vector<ZipEntry> entries = detail::read_zip_directory(file, name);
  // torch.save puts everything under one folder, "<archive>/"; data.pkl names it.
  const ZipEntry* pickle_entry = nullptr;
  for (const ZipEntry& e : entries) {
    const std::size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash) == "/data.pkl") {
      if (pickle_entry) throw ParseError(name + ": more than one <archive>/data.pkl");
      pickle_entry = &e;
    }
  }
  if (!pickle_entry) {
    throw ParseError(name + ": zip has no <archive>/data.pkl, so it is not a torch.save file");
  }
  const std::string prefix = pickle_entry->name.substr(0, pickle_entry->name.size() - 8);
  std::map<std::string, const ZipEntry*, std::less<>> by_name;
  for (const ZipEntry& e : entries) by_name[e.name] = &e;
  if (auto it = by_name.find(prefix + "byteorder"); it != by_name.end()) {
    const std::string_view order(
        reinterpret_cast<const char*>(file.data() + it->second->data_offset), it->second->size);
    if (order != "little") {
      throw Unsupported(name + ": byteorder is '" + std::string(order) +
                        "'; only little-endian checkpoints are supported");
    }
  }

  Unpickler pickle(file.subspan(pickle_entry->data_offset, pickle_entry->size),
                   name + ": " + pickle_entry->name);
  std::uint64_t pos = 0;
  const Value state = pickle.load(pos);
  if (state.kind != Kind::kDict) {
    throw ParseError(name + ": the pickle holds a " + std::string(kind_name(state.kind)) +
                     ", not a state dict");
  }
  StorageBytes storages;
  for (const auto& [key, declared] : declared_storages(pickle, state, name)) {
    auto it = by_name.find(prefix + "data/" + key);
    if (it == by_name.end()) continue;  // reported by add_state_dict, naming the tensor
    storages.emplace(key, file.subspan(it->second->data_offset, it->second->size));
  }
  add_state_dict(pickle, state, storages, name, out);
}

// torch.save(..., _use_new_zipfile_serialization=False): pickles of the magic number, the
// protocol version, sys_info and the state dict, a pickled list of storage keys, then each
// storage as an 8-byte element count followed by its raw bytes.
constexpr std::array<std::uint8_t, 15> kLegacyMagic{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

void parse_legacy_checkpoint(std::span<const std::byte> file, const std::string& name,
                             TensorFile& out) {
  Unpickler pickle(file, name);
  std::uint64_t pos = kLegacyMagic.size();
  const Value protocol = pickle.load(pos);
  if (protocol.kind != Kind::kInt || protocol.number != 1001) {
    throw Unsupported(name + ": legacy checkpoint protocol is not 1001");
  }
  const Value sys_info = pickle.load(pos);
  if (sys_info.kind != Kind::kDict) throw ParseError(name + ": legacy sys_info is not a dict");
  const auto& info = pickle.items(sys_info);
  for (std::size_t i = 0; i + 1 < info.size(); i += 2) {
    if (info[i].kind == Kind::kString && pickle.string(info[i]) == "little_endian" &&
        !(info[i + 1].kind == Kind::kBool && info[i + 1].number == 1)) {
      throw Unsupported(name + ": big-endian checkpoints are not supported");
    }
  }
  const Value state = pickle.load(pos);
  if (state.kind != Kind::kDict) {
    throw ParseError(name + ": the pickle holds a " + std::string(kind_name(state.kind)) +
                     ", not a state dict");
  }
  const std::map<std::string, Declared> declared = declared_storages(pickle, state, name);
  const Value keys = pickle.load(pos);
  if (keys.kind != Kind::kList) throw ParseError(name + ": legacy storage key list is missing");

  const Bytes bytes(file, name);
  StorageBytes storages;
  for (const Value key : pickle.items(keys)) {
    if (key.kind != Kind::kString) throw ParseError(name + ": legacy storage key is not a str");
    const std::string& k = pickle.string(key);
    auto it = declared.find(k);
    if (it == declared.end()) {
      // Without a tensor naming its type, the element size and so the length are unknown.
      throw ParseError(name + ": storage '" + k + "' is stored but no tensor uses it");
    }
    const std::uint64_t numel = bytes.u64(pos, "storage length");
    if (numel != static_cast<std::uint64_t>(it->second.numel)) {
      throw ParseError(name + ": storage '" + k + "' holds " + std::to_string(numel) +
                       " elements, the pickle says " + std::to_string(it->second.numel));
    }
    const std::uint64_t element_size = dtype_size(it->second.dtype);
    const std::uint64_t available = bytes.size() - pos - 8;  // u64() checked pos + 8 <= size
    if (numel > available / element_size) {
      throw ParseError(name + ": storage '" + k + "' needs " + std::to_string(numel) + " x " +
                       std::to_string(element_size) + " bytes; only " + std::to_string(available) +
                       " remain");
    }
    const std::uint64_t length = numel * element_size;
    if (!storages.emplace(k, file.subspan(pos + 8, length)).second) {
      throw ParseError(name + ": storage '" + k + "' is stored twice");
    }
    pos += 8 + length;
  }
  add_state_dict(pickle, state, storages, name, out);
}

void parse_torch_checkpoint(std::span<const std::byte> file, const std::string& name,
                            TensorFile& out) {
  auto starts_with = [&](std::span<const std::uint8_t> prefix, std::size_t at = 0) {
    if (file.size() < at + prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::to_integer<std::uint8_t>(file[at + i]) != prefix[i]) return false;
    }
    return true;
  };
  constexpr std::array<std::uint8_t, 4> kZipMagic{'P', 'K', 0x03, 0x04};
  constexpr std::array<std::uint8_t, 5> kTarMagic{'u', 's', 't', 'a', 'r'};
  if (starts_with(kZipMagic)) return parse_zip_checkpoint(file, name, out);
  if (starts_with(kLegacyMagic)) return parse_legacy_checkpoint(file, name, out);
  if (starts_with(kTarMagic, 257)) {
    throw Unsupported(name + ": tar-format checkpoints (PyTorch < 0.4) are not supported");
  }
  throw ParseError(name +
                   ": not a PyTorch checkpoint: neither a zip archive (torch.save) nor "
                   "the legacy pickle format");
}

}  // namespace

TensorFile open_torch_checkpoint(const std::filesystem::path& path) {
  auto mapping = std::make_shared<const util::MappedFile>(path);
  TensorFile out(path.string());
  parse_torch_checkpoint(mapping->bytes(), path.string(), out);
  out.keep_alive(std::move(mapping));
  return out;
}

TensorFile read_torch_checkpoint(std::string bytes, const std::string& name) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  TensorFile out(name);
  parse_torch_checkpoint(std::as_bytes(std::span(owned->data(), owned->size())), name, out);
  out.keep_alive(std::move(owned));
  return out;
}

}  // namespace bertlite::io
