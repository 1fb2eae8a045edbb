// fuzz/torch_checkpoint_fuzz.cpp - fuzz target: arbitrary bytes as a pytorch_model.bin.
//
// Input: the whole file - a torch.save zip (stored entries, ZIP64 records, <archive>/data.pkl
// and <archive>/data/<key> storages) or the legacy pickle-sequence format.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - read_torch_checkpoint returns or throws a bertlite::Error with a message; no other
//     exception escapes, nothing crashes, hangs or trips a sanitizer, whatever the zip
//     directory or the pickle opcodes say;
//   - every tensor it lists loads through floats / integers / bytes (or throws an Error),
//     reading only bytes inside its storage (tensor_checks.h), and needs no more memory than
//     the input justifies (a size of 10^12 over a stride-0 view is an Error);
//   - read_zip_directory, run on its own, returns entries that lie inside the input.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/torch_checkpoint.h"
#include "tensor_checks.h"

namespace bertlite::fuzz {
namespace {

void run(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto entries = io::detail::read_zip_directory(
        std::as_bytes(std::span(bytes.data(), bytes.size())), "fuzz.bin");
    for (const io::detail::ZipEntry& entry : entries) {
      FUZZ_CHECK(entry.data_offset <= size && entry.size <= size - entry.data_offset);
    }
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');
  }
  std::optional<io::TensorFile> file;
  try {
    file.emplace(io::read_torch_checkpoint(bytes, "fuzz.bin"));
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');  // an error says what is wrong
  }
  if (file) check_tensor_file(*file, size);
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
