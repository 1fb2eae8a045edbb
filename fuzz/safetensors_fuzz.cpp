// fuzz/safetensors_fuzz.cpp - fuzz target: arbitrary bytes as a model.safetensors file.
//
// Input: the whole file - the 8-byte little-endian header length, the JSON header (dtypes,
// shapes, data_offsets, __metadata__), then the tensor data.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - read_safetensors returns or throws a bertlite::Error with a message; no other exception
//     escapes, nothing crashes or trips a sanitizer;
//   - every tensor it lists loads through floats / integers / bytes (or throws an Error), with
//     the element count of its shape, reading only bytes inside the input (tensor_checks.h);
//   - no tensor claims more elements than the input can hold: a header promising 10^12
//     elements is an Error, not an allocation;
//   - open_safetensors (the path reader, which maps the file) agrees with read_safetensors:
//     the same tensors, or an error from both.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/safetensors.h"
#include "tensor_checks.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::optional<io::TensorFile> file;
  try {
    file.emplace(io::read_safetensors(bytes, "fuzz.safetensors"));
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
  }
  if (file) check_tensor_file(*file, size);

  // The mapped-file path must reach the same verdict.
  const auto path = write_scratch_file("model.safetensors", bytes);
  try {
    const io::TensorFile mapped = io::open_safetensors(path);
    FUZZ_CHECK(file.has_value());
    FUZZ_CHECK(mapped.size() == file->size());
    for (const io::TensorInfo& info : file->tensors()) {
      const io::TensorInfo* other = mapped.find(info.name);
      FUZZ_CHECK(other != nullptr);
      FUZZ_CHECK(other->shape == info.shape && other->source_dtype == info.source_dtype);
    }
  } catch (const Error&) {
    FUZZ_CHECK(!file.has_value());
  }
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
