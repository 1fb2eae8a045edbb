// io/torch_checkpoint.h - reads PyTorch state dicts (pytorch_model.bin) without Python.
//
// torch.save (PyTorch >= 1.6) writes a zip of stored (uncompressed) entries:
// <archive>/data.pkl is the pickled state dict and <archive>/data/<key> the raw bytes of each
// storage. The reader maps the file, walks the zip's central directory (ZIP64 included), and
// runs a restricted unpickler that only interprets the opcodes torch.save emits for a state
// dict and only "calls" an allow-list of globals (OrderedDict, _rebuild_tensor_v2,
// _rebuild_parameter, the typed storages) by building plain descriptions of them. Nothing in
// the file is ever executed; any other opcode or global is an error naming it.
//
// Every storage offset, size and stride is bounds- and overflow-checked against the storage's
// bytes. Strided tensors (a transpose, a view into a shared storage) are made contiguous when
// first loaded as float32; contiguous aligned F32 tensors are views into the mapping.
//
// The legacy format (PyTorch < 1.6, _use_new_zipfile_serialization=False: a sequence of
// pickles followed by raw storages) is read too. The older tar format is rejected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "io/tensor_file.h"

namespace bertlite::io {

// Maps and parses `path`. Throws IoError if it cannot be mapped, ParseError for a malformed
// file, Unsupported for a valid file using something outside the state-dict subset.
TensorFile open_torch_checkpoint(const std::filesystem::path& path);

// Parses checkpoint bytes held in memory; `name` is used in messages. The TensorFile keeps
// the bytes.
TensorFile read_torch_checkpoint(std::string bytes, const std::string& name);

namespace detail {

// One stored member of a zip archive: where its bytes start in the file and how many.
struct ZipEntry {
  std::string name;
  std::uint64_t data_offset = 0;
  std::uint64_t size = 0;
};

// Reads a zip's central directory (ZIP64 aware) and locates each entry's data. Throws
// ParseError for a malformed archive and Unsupported for compressed or encrypted entries.
std::vector<ZipEntry> read_zip_directory(std::span<const std::byte> file, const std::string& name);

}  // namespace detail
}  // namespace bertlite::io
